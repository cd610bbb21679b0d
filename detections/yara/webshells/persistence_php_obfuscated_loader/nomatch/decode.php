<?php $cfg = json_decode(base64_decode($raw), true); echo $cfg['title']; ?>
