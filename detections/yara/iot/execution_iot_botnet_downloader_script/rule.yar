rule execution_iot_botnet_downloader_script
{
    meta:
        id = "9c919599-f1ef-51e3-8dc5-61d6e7d99615"
        description = "IoT botnet downloader script: writable-directory hop, per-architecture fetch, chmod 777, run"
        author = "citysoc"
        owner = "city-soc"
        runbook = "iot-botnet.md"
        attack = "T1105,T1059.004"
        severity = "high"
        date = "2026-11-22"
    strings:
        $hop = /cd \/tmp \|\| cd \/var\/run/
        $chmod = "chmod 777"
        $arch = /\.(arm7|arm5|arm|mips|mpsl|x86|ppc|m68k|sh4|spc)\b/
        $fetch = /(wget|curl|tftp|ftpget) /
    condition:
        $hop and $chmod and $fetch and #arch >= 3
}
