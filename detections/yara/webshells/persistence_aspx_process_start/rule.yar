rule persistence_aspx_process_start
{
    meta:
        id = "55ef2d9e-dfe7-511e-bd3b-739239c7afd0"
        description = "ASPX web shell starting cmd.exe or PowerShell with request input"
        author = "citysoc"
        owner = "city-soc"
        runbook = "webshell.md"
        attack = "T1505.003"
        severity = "critical"
        date = "2026-11-22"
    strings:
        $page = "<%@ Page" nocase
        $start = "Process.Start(" ascii
        $input = /Request(\.Form|\.QueryString|\.Item)?\[/ ascii
    condition:
        $page and $start and $input
}
