#!/bin/sh
chmod 600 /etc/shadow
chown root:shadow /etc/shadow
