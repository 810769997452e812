// Command demosite serves the bundled demo website (pipelines/site) on
// loopback: it prints the URL of the home page on stdout and serves until it
// gets SIGINT or SIGTERM.
//
//	demosite [-addr 127.0.0.1:0] [-archive site.tar.zst]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/pipe-dev/pipe/pipelines/site"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	archive := flag.String("archive", "", "a site archive (.tar.zst) instead of the embedded one")
	flag.Parse()
	log.SetPrefix("demosite: ")
	log.SetFlags(0)

	s, err := site.Default()
	if *archive != "" {
		var f *os.File
		if f, err = os.Open(*archive); err == nil {
			s, err = site.Load(f)
			f.Close()
		}
	}
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: s}
	go srv.Serve(ln)
	fmt.Printf("http://%s/index.html\n", ln.Addr())
	log.Printf("serving %d files on %s", len(s.Paths()), ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	srv.Shutdown(context.Background())
}
