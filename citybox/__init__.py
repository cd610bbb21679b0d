"""The city in a box: the topology's hosts as booted Debian 12 systems on one machine.

Each host is a network namespace running systemd (``systemd-nspawn -b``) on an overlay of one
cached base image; segments are bridges, routers are namespaces carrying the nftables role's
forward rules, and the machine reaches the box only through one veth into the management
segment. Ansible then converges the roles over SSH through the bastion, as in production.
"""
