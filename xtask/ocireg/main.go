// Minimal OCI registry with the Referrers API, from go-containerregistry's pkg/registry,
// for the referrers tests. Built by `cargo xtask tools` against Debian's
// golang-github-google-go-containerregistry-dev source package (never vendored here).
package main

import (
	"flag"
	"log"
	"net/http"
	"os"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5600", "listen address")
	disk := flag.String("disk", "", "blob directory (empty = memory)")
	flag.Parse()
	opts := []registry.Option{registry.WithReferrersSupport(true)}
	if *disk != "" {
		if err := os.MkdirAll(*disk, 0o755); err != nil {
			log.Fatal(err)
		}
		opts = append(opts, registry.WithBlobHandler(registry.NewDiskBlobHandler(*disk)))
	}
	log.Printf("listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, registry.New(opts...)))
}
