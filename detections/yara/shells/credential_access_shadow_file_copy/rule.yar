rule credential_access_shadow_file_copy
{
    meta:
        id = "380634c3-f30e-581d-a604-81a56a976d8a"
        description = "Script copying /etc/shadow or camera password stores for offline cracking"
        author = "citysoc"
        owner = "city-soc"
        runbook = "ssh-compromise.md"
        attack = "T1003.008"
        severity = "high"
        date = "2026-11-22"
    strings:
        $shadow = /(cat|cp|tar|base64)\s[^\n]{0,40}\/etc\/shadow/
        $exfil = /(curl|wget|nc|scp)\s[^\n]{0,80}(\.\/|\/tmp\/|@|http)/
        $cam = "/mnt/mtd/Config/Account1"
    condition:
        ($shadow or $cam) and $exfil
}
