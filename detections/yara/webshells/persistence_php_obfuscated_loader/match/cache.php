<?php eval(gzinflate(base64_decode('REFGQU5HRUQgVEVTVCBTQU1QTEU='))); ?>
