<?php
$page = $_GET['p'] ?? 'home';
include __DIR__ . '/pages/' . basename($page) . '.php';
