#!/bin/sh
# planned restart of the video service
killall dvr_main
sleep 2
/app/dvr_main &
