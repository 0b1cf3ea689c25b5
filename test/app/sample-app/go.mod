module gantry.local/sample-app

go 1.22
