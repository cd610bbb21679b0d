rule execution_gafgyt_bot_commands
{
    meta:
        id = "a1215fc5-a01e-59ac-b6fc-ed82aad27bd8"
        description = "Gafgyt (Bashlite) bot command set and scanner strings"
        author = "citysoc"
        owner = "city-soc"
        runbook = "iot-botnet.md"
        attack = "T1059.004,T1498"
        severity = "critical"
        date = "2026-11-22"
    strings:
        $c1 = "!* SCANNER ON"
        $c2 = "!* KILLATTK"
        $c3 = "HTTPFLOOD"
        $c4 = "STD"
        $c5 = "JUNK"
        $c6 = "HOLD"
        $c7 = "LOLNOGTFO"
        $c8 = "gtop.sh"
    condition:
        3 of them
}
