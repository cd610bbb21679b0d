rule defense_evasion_camera_watchdog_and_firewall_kill
{
    meta:
        id = "c99a9e4b-3ee6-538b-95a9-6ab1d68e5a32"
        description = "Script that disables a camera's watchdog or flushes its firewall and kills the video process"
        author = "citysoc"
        owner = "city-soc"
        runbook = "camera-compromised.md"
        attack = "T1562.004,T0878"
        severity = "high"
        date = "2026-11-22"
    strings:
        $flush = /iptables\s+-F/
        $kill = /(killall|pkill)\s+(-9\s+)?(dvr|davinci|sonia|hisi|dvr_main)/
        $wd = /echo\s+["\']?V["\']?\s*>\s*\/dev\/watchdog/
    condition:
        2 of them
}
