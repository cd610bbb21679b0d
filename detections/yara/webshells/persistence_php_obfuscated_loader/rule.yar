rule persistence_php_obfuscated_loader
{
    meta:
        id = "773ab856-2402-5ad6-be91-a696c5644208"
        description = "Obfuscated PHP loader: eval of decoded, inflated or reversed strings"
        author = "citysoc"
        owner = "city-soc"
        runbook = "webshell.md"
        attack = "T1505.003,T1027"
        severity = "high"
        date = "2026-11-22"
    strings:
        $php = "<?php" nocase
        $chain = /eval\s*\(\s*(gzinflate|gzuncompress|str_rot13|strrev|base64_decode)\s*\(\s*(gzinflate|base64_decode|str_rot13)?/ nocase
    condition:
        $php and $chain
}
