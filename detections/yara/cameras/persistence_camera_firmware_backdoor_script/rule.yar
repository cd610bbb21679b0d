rule persistence_camera_firmware_backdoor_script
{
    meta:
        id = "50413ed6-7df9-5daf-8c8c-3339084d7f15"
        description = "Camera firmware start-up script that opens a root Telnet shell or blanks root's password"
        author = "citysoc"
        owner = "city-soc"
        runbook = "camera-compromised.md"
        attack = "T1601.001,T0839"
        severity = "critical"
        date = "2026-11-22"
    strings:
        $telnet = /telnetd\s+(-p\s+\d+\s+)?-l\s*\/bin\/sh/
        $passwd = /echo\s+["\']?root::0:0/
    condition:
        ($telnet or $passwd) and filesize < 256KB
}
