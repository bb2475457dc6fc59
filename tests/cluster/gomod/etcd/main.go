// Command etcd is a thin wrapper around etcdmain so that etcd can be built from
// the Go module proxy (the etcd server module replaces its siblings with local
// paths, which makes `go install go.etcd.io/etcd/server/v3@vX` impossible).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
