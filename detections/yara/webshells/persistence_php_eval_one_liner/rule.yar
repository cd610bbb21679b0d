rule persistence_php_eval_one_liner
{
    meta:
        id = "d92dfa21-678f-5e20-876b-72f7b6fadcbf"
        description = "PHP one-liner web shell: eval/assert/system on request input"
        author = "citysoc"
        owner = "city-soc"
        runbook = "webshell.md"
        attack = "T1505.003"
        severity = "critical"
        date = "2026-11-22"
    strings:
        $php = "<?php" nocase
        $run = /(eval|assert|system|passthru|shell_exec)\s*\(\s*(\$_(POST|GET|REQUEST|COOKIE)|base64_decode\s*\(\s*\$_)/ nocase
    condition:
        $php and $run and filesize < 64KB
}
