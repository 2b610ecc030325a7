module pgop.local/pause

go 1.22
