package delivery

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"testing"
)

// gzipTar writes a gzip-compressed tar of files of zeros, as a bundle bomb is.
type gzipTar struct {
	gz *gzip.Writer
	tw *tar.Writer
}

func newGzipTar(w io.Writer) *gzipTar {
	gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	return &gzipTar{gz: gz, tw: tar.NewWriter(gz)}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func (g *gzipTar) add(t *testing.T, name string, size int64) {
	t.Helper()
	if err := g.tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(g.tw, io.LimitReader(zeros{}, size)); err != nil {
		t.Fatal(err)
	}
}

func (g *gzipTar) close(t *testing.T) {
	t.Helper()
	if err := g.tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := g.gz.Close(); err != nil {
		t.Fatal(err)
	}
}
