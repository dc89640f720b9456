package bundle

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
)

// distTags reads an npm package's dist-tags in the target repository;
// none when it offers no version of the package.
func (t Target) distTags(ctx context.Context, repo string, p Package) (map[string]string, error) {
	src := Source{Base: t.Base, Token: t.Token, HTTP: t.HTTP}
	b, status, err := src.getStatus(ctx, t.endpoint("npm", repo)+"-/package/"+npmName(p)+"/dist-tags")
	if status == http.StatusNotFound {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	tags := map[string]string{}
	if err := json.Unmarshal(b, &tags); err != nil {
		return nil, err
	}
	return tags, nil
}

// setDistTags gives an npm package the bundle's dist-tags, as npm dist-tag
// add does (https://docs.npmjs.com/cli/commands/npm-dist-tag). Publishing
// moves latest to the version published, so when the repository held the
// package before the import (before is its dist-tags then, nil when it did
// not) its tags are kept or put back: the bundle adds the tags it lacks,
// and a tag it has with another version is left alone and noted.
func setDistTags(ctx context.Context, t Target, repo string, p Package, before map[string]string) ([]string, error) {
	want := maps.Clone(p.DistTags)
	var notes []string
	if before != nil {
		want = maps.Clone(before)
		for tag, v := range p.DistTags {
			switch b, ok := before[tag]; {
			case !ok:
				want[tag] = v
			case b != v:
				notes = append(notes, fmt.Sprintf("%s: %s: kept dist-tag %s on %s (the bundle's: %s)", repo, p, tag, b, v))
			}
		}
	}
	cur, err := t.distTags(ctx, repo, p)
	if err != nil {
		return nil, err
	}
	for _, tag := range slices.Sorted(maps.Keys(want)) {
		if cur[tag] == want[tag] {
			continue
		}
		body, err := json.Marshal(want[tag])
		if err != nil {
			return nil, err
		}
		u := t.endpoint("npm", repo) + "-/package/" + npmName(p) + "/dist-tags/" + tag
		if err := t.sendBytes(ctx, http.MethodPut, u, "application/json", body); err != nil {
			return nil, err
		}
	}
	slices.Sort(notes)
	return notes, nil
}
