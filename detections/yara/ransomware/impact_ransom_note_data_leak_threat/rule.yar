rule impact_ransom_note_data_leak_threat
{
    meta:
        id = "5921161f-64e4-5ba7-a0b9-ffe0eb96eec6"
        description = "Double-extortion note: stolen data will be published on a leak site unless the victim pays"
        author = "citysoc"
        owner = "city-soc"
        runbook = "malware-file.md"
        attack = "T1486,T1657"
        severity = "critical"
        date = "2026-11-22"
    strings:
        $stolen = /(we have (downloaded|stolen|exfiltrated)|your data (has been|was) (stolen|downloaded))/ nocase
        $publish = /(publish|leak|sell)/ nocase
        $site = ".onion" nocase
        $deadline = /(72|48|24) hours/ nocase
    condition:
        $stolen and $publish and ($site or $deadline)
}
