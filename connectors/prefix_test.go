package connectors

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrefixOnce(t *testing.T) {
	base := errors.New("postgres source: unexpected message sequence")
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("postgres source: snapshot: %w", base), "postgres source: snapshot: unexpected message sequence"},
		{fmt.Errorf("postgres source: a: %w", fmt.Errorf("postgres source: b: %w", base)), "postgres source: a: b: unexpected message sequence"},
		{fmt.Errorf("starting: %w", base), "starting: postgres source: unexpected message sequence"},
		{errors.New("no prefix"), "no prefix"},
	} {
		got := PrefixOnce("postgres source: ", c.err)
		if got.Error() != c.want {
			t.Errorf("PrefixOnce(%q) = %q, want %q", c.err, got, c.want)
		}
		if !errors.Is(got, c.err) {
			t.Errorf("PrefixOnce(%q) hides the error", c.err)
		}
	}
	if PrefixOnce("x: ", nil) != nil {
		t.Error("PrefixOnce(nil) != nil")
	}
	ce := &ConfigError{Source: "postgres", Field: "tables", Problem: "p"}
	if _, ok := errors.AsType[*ConfigError](PrefixOnce("postgres source: ", fmt.Errorf("postgres source: x: %w", ce))); !ok {
		t.Error("ConfigError lost")
	}
}

// Every exported function or Source method of the two sources that returns an error and whose
// package prefixes its errors ("postgres source: ") applies PrefixOnce, so that no wrap added
// deep inside makes a message name its source twice. Parsers of values (ParsePosition) and
// NameCollision name no source and are left out.
func TestSourceEntriesPrefixOnce(t *testing.T) {
	skip := map[string]bool{"ParseGTIDSet": true, "ParsePosition": true, "NameCollision": true}
	for _, dir := range []string{"postgres", "mysql"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		fset := token.NewFileSet()
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range f.Decls {
				fn, ok := d.(*ast.FuncDecl)
				if !ok || !fn.Name.IsExported() || skip[fn.Name.Name] || fn.Body == nil || !returnsError(fn) {
					continue
				}
				if fn.Recv != nil && !isSourceRecv(fn.Recv) {
					continue
				}
				found := false
				ast.Inspect(fn.Body, func(n ast.Node) bool {
					if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "PrefixOnce" {
						found = true
					}
					return !found
				})
				if !found {
					t.Errorf("%s: %s returns errors without PrefixOnce", fset.Position(fn.Pos()), fn.Name.Name)
				}
			}
		}
	}
}

func returnsError(fn *ast.FuncDecl) bool {
	if fn.Type.Results == nil {
		return false
	}
	for _, r := range fn.Type.Results.List {
		if id, ok := r.Type.(*ast.Ident); ok && id.Name == "error" {
			return true
		}
	}
	return false
}

func isSourceRecv(fl *ast.FieldList) bool {
	if len(fl.List) != 1 {
		return false
	}
	star, ok := fl.List[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	id, ok := star.X.(*ast.Ident)
	return ok && id.Name == "Source"
}
