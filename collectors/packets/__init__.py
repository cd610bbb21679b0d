"""Packets to events: headers, flows, TCP reassembly, and one decoder per protocol (HTTP,
RTSP, DNS, Modbus/TCP, Telnet, SSH, WS-Discovery), whoever read the packets."""
