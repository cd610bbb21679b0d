rule command_and_control_reverse_shell_one_liner
{
    meta:
        id = "f7f98b15-f19d-5188-81ac-d416a34b5e5b"
        description = "Reverse shell one-liners: bash /dev/tcp, nc -e, python/perl socket to a shell"
        author = "citysoc"
        owner = "city-soc"
        runbook = "ssh-compromise.md"
        attack = "T1059.004,T1071"
        severity = "high"
        date = "2026-11-22"
    strings:
        $bash = /(bash|sh) -i\s*>&\s*\/dev\/tcp\/[0-9.]{7,15}\/\d{1,5}/
        $nc = /\b(nc|ncat|netcat)\b[^\n]{0,40}\s-e\s+\/bin\/(ba)?sh/
        $py = /socket\.socket\([^\n]{0,200}(pty\.spawn|subprocess\.call\(\[["\']\/bin\/(ba)?sh)/
        $mkfifo = /mkfifo\s+\/tmp\/\w+;\s*(nc|cat)/
    condition:
        any of them
}
