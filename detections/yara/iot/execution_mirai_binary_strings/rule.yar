rule execution_mirai_binary_strings
{
    meta:
        id = "a5d9ca08-c385-52ee-b361-482472cbbd53"
        description = "Mirai-family bot strings: busybox applet probe, watchdog disabling, dvrHelper and scanner credentials"
        author = "citysoc"
        owner = "city-soc"
        runbook = "iot-botnet.md"
        attack = "T1059.004,T0807"
        severity = "critical"
        date = "2026-11-22"
    strings:
        $probe = /\/bin\/busybox (MIRAI|ECCHI|OWARI|SORA)/
        $watchdog = "/dev/watchdog"
        $misc = "/dev/misc/watchdog"
        $helper = "dvrHelper"
        $cred1 = "xc3511"
        $cred2 = "vizxv"
        $cred3 = "7ujMko0admin"
    condition:
        $probe or (2 of ($watchdog, $misc, $helper) and 1 of ($cred*))
}
