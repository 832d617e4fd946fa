// Command etcd is etcd's own server entry point, built from go.etcd.io/etcd/server/v3
// because Debian's etcd-server (3.4) is older than the release this API server supports.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
