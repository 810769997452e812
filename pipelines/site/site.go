// Package site serves the bundled demo website: a small online library of
// two public-domain works (the King James Bible, one page per chapter, and
// Newton's Opticks), about 1,300 linked HTML pages and 6 MB of HTML, stored
// as site.tar.zst (1.2 MB) and embedded here. build_site.py beside it made
// the archive and says where the texts come from.
//
// It is independent of pipe: it only serves files, for the demo
// (pipelines/cmd/demosite) and the tests that crawl it on loopback.
package site

import (
	"archive/tar"
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

//go:embed site.tar.zst
var archive []byte

// Site is a set of files served by path.
type Site struct {
	files map[string][]byte // "kjv/genesis/1.html" → content
}

var _ http.Handler = (*Site)(nil)

// Default is the embedded site.
func Default() (*Site, error) { return Load(bytes.NewReader(archive)) }

// Load reads a site from a zstd-compressed tar archive of regular files.
func Load(r io.Reader) (*Site, error) {
	zr, err := zstd.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("site: %w", err)
	}
	defer zr.Close()
	s := &Site{files: map[string][]byte{}}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("site: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("site: %s: %w", h.Name, err)
		}
		s.files[path.Clean(h.Name)] = b
	}
	if _, ok := s.files["index.html"]; !ok {
		return nil, errors.New("site: the archive has no index.html")
	}
	return s, nil
}

// Paths lists the site's files, sorted.
func (s *Site) Paths() []string {
	out := make([]string, 0, len(s.files))
	for p := range s.files {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// File returns the content of a file ("kjv/index.html"), or nil.
func (s *Site) File(name string) []byte { return s.files[name] }

// ServeHTTP serves the file the URL path names; a directory path serves its
// index.html.
func (s *Site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" || strings.HasSuffix(r.URL.Path, "/") {
		name = path.Join(name, "index.html")
	}
	b, ok := s.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}
