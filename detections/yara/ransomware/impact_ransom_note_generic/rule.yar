rule impact_ransom_note_generic
{
    meta:
        id = "5dcdce94-e65f-5810-bb7d-99948f5ebd1d"
        description = "Ransom note: files encrypted, a decryptor for payment, Tor or crypto-currency contact"
        author = "citysoc"
        owner = "city-soc"
        runbook = "malware-file.md"
        attack = "T1486"
        severity = "critical"
        date = "2026-11-22"
    strings:
        $enc1 = "files have been encrypted" nocase
        $enc2 = "files are encrypted" nocase
        $dec = "decrypt" nocase
        $pay1 = "bitcoin" nocase
        $pay2 = "monero" nocase
        $pay3 = ".onion" nocase
        $pay4 = "BTC" ascii
    condition:
        1 of ($enc*) and $dec and 1 of ($pay*) and filesize < 200KB
}
