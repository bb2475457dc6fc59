// Command coredns is CoreDNS with only the plugins the real test node's Corefile
// (tests/cluster/node/Corefile) can use, instead of upstream's full plugin tree.
//
// Why: `go install github.com/coredns/coredns@VERSION` compiles every plugin
// (route53, azure, clouddns, etcd, dnstap, grpc, ...) and downloads their cloud
// SDKs: most of a 40-minute cold build on a 2-core machine. The cluster DNS
// needs the kubernetes plugin and a few generic ones; nothing forwards upstream
// (no query leaves the machine).
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	// The plugins, in the order they run (Directives below); each registers itself in init.
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/ready"
)

// directives is upstream's order (core/dnsserver/zdirectives.go) restricted to
// the plugins imported above: a Corefile naming any other plugin is refused at
// start ("unknown directive") instead of silently doing nothing.
var directives = []string{
	"bind",
	"ready",
	"health",
	"errors",
	"log",
	"cache",
	"kubernetes",
	"loop",
}

func init() {
	dnsserver.Directives = directives
}

func main() {
	coremain.Run()
}
