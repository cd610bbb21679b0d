rule execution_mozi_config_markers
{
    meta:
        id = "dd03c1d6-bc44-575e-b393-f59fff978c8f"
        description = "Mozi P2P botnet configuration markers and DHT bootstrap list"
        author = "citysoc"
        owner = "city-soc"
        runbook = "iot-botnet.md"
        attack = "T1059.004,T1090.003"
        severity = "critical"
        date = "2026-11-22"
    strings:
        $cfg1 = "[ss]"
        $cfg2 = "[hp]"
        $cfg3 = "[count]"
        $cfg4 = "[atk]"
        $name = /Mozi\.[ma]/
        $dht1 = "dht.transmissionbt.com"
        $dht2 = "router.bittorrent.com"
    condition:
        3 of ($cfg*) or ($name and 1 of ($dht*))
}
