rule persistence_jsp_runtime_exec
{
    meta:
        id = "b1fbf142-c8d7-5f68-aa95-964bac14484a"
        description = "JSP web shell running request parameters through Runtime.exec or ProcessBuilder"
        author = "citysoc"
        owner = "city-soc"
        runbook = "webshell.md"
        attack = "T1505.003"
        severity = "critical"
        date = "2026-11-22"
    strings:
        $jsp = "<%" ascii
        $exec = /(Runtime\.getRuntime\(\)\.exec|new ProcessBuilder)\s*\(\s*request\.getParameter/ ascii
    condition:
        $jsp and $exec
}
