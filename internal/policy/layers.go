package policy

import (
	"errors"
	"io/fs"
	"sort"
)

// layers shows several file systems as one: a name is looked up in each in turn,
// and a directory lists the entries of all. It lets the embedded Rego and the
// embedded manifest and data, which live in different folders of the repository,
// be read as one bundle by OPA's own bundle reader.
type layers []fs.FS

func (l layers) Open(name string) (fs.File, error) {
	var first error
	for _, fsys := range l {
		f, err := fsys.Open(name)
		if err == nil {
			return f, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

// ReadDir merges the listings; where two layers have the same name, the earlier wins.
func (l layers) ReadDir(name string) ([]fs.DirEntry, error) {
	seen := map[string]bool{}
	var out []fs.DirEntry
	found := false
	for _, fsys := range l {
		entries, err := fs.ReadDir(fsys, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		found = true
		for _, e := range entries {
			if !seen[e.Name()] {
				seen[e.Name()] = true
				out = append(out, e)
			}
		}
	}
	if !found {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}
