package model

// Step is one stop of a walk: a repository's own contents, or (External) the
// external connection of that repository.
type Step struct {
	Repo     Repository
	External bool
	// End is the index of the first step after this repository's subtree
	// (its upstreams and its external connection). A resolver that finds the
	// package's upstream origin control set to BLOCK in Repo jumps to End.
	End int
}

// Walk returns the resolution order for a repository: the repository, then
// each upstream in priority order depth first (an upstream's own upstreams
// before the next sibling), then its own external connection. Every
// repository is visited once and at most MaxWalk repositories are visited.
// The result is shared: callers must not modify it.
func (r *Registry) Walk(domain, name string) ([]Step, error) {
	key := domain + "\x00" + name
	r.mu.RLock()
	w, ok := r.walks[key]
	r.mu.RUnlock()
	if ok {
		return w, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if w, ok := r.walks[key]; ok {
		return w, nil
	}
	ds, start, err := r.domainRepository(domain, name)
	if err != nil {
		return nil, err
	}
	var steps []Step
	visited := map[string]bool{}
	var visit func(repo *Repository)
	visit = func(repo *Repository) {
		if visited[repo.ID] || len(visited) >= MaxWalk {
			return
		}
		visited[repo.ID] = true
		at := len(steps)
		steps = append(steps, Step{Repo: repo.clone()})
		for _, id := range repo.Upstreams {
			if u := ds.byID[id]; u != nil {
				visit(u)
			}
		}
		if repo.ExternalConnection != "" {
			steps = append(steps, Step{Repo: repo.clone(), External: true, End: len(steps) + 1})
		}
		steps[at].End = len(steps)
	}
	visit(start)
	r.walks[key] = steps
	return steps, nil
}
