rule persistence_camera_rc_local_download
{
    meta:
        id = "f76f3651-2865-5e6a-8e95-a86b6fd6846d"
        description = "Camera start-up file that downloads and runs code from the network at boot"
        author = "citysoc"
        owner = "city-soc"
        runbook = "camera-compromised.md"
        attack = "T1037.004,T1105"
        severity = "high"
        date = "2026-11-22"
    strings:
        $get = /(wget|curl|tftp -g)[^\n]{0,120}\|\s*(sh|ash|bash)/
        $getrun = /(wget|curl)[^\n]{0,120};\s*(sh|\.\/)/
        $boot = /(rc\.local|init\.d|rcS)/
    condition:
        $boot and ($get or $getrun)
}
