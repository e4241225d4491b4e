package githubapi

import (
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
)

// route serves one authenticated request and returns its status.
func (s *Server) route(w http.ResponseWriter, r *http.Request, p []string, user string) int {
	m := r.Method
	switch {
	case m == http.MethodGet && len(p) == 1 && p[0] == "user":
		writeJSON(w, http.StatusOK, map[string]any{"login": user, "type": "User"})
		return http.StatusOK
	case m == http.MethodGet && len(p) == 2 && p[0] == "orgs":
		if !s.orgExists(p[1]) {
			return notFound(w)
		}
		writeJSON(w, http.StatusOK, map[string]any{"login": p[1], "type": "Organization"})
		return http.StatusOK
	case m == http.MethodGet && len(p) == 2 && p[0] == "users":
		switch {
		case s.orgExists(p[1]):
			writeJSON(w, http.StatusOK, map[string]any{"login": p[1], "type": "Organization"})
		case s.userExists(p[1]):
			writeJSON(w, http.StatusOK, map[string]any{"login": p[1], "type": "User"})
		default:
			return notFound(w)
		}
		return http.StatusOK
	case m == http.MethodPost && len(p) == 3 && p[0] == "orgs" && p[2] == "repos":
		if !s.orgExists(p[1]) {
			return notFound(w)
		}
		return s.createRepo(w, r, p[1])
	case m == http.MethodPost && len(p) == 2 && p[0] == "user" && p[1] == "repos":
		return s.createRepo(w, r, user)
	case m == http.MethodPut && len(p) == 7 && p[0] == "orgs" && p[2] == "teams" && p[4] == "repos":
		if !s.orgExists(p[1]) || s.find(p[5], p[6]) == nil {
			return notFound(w)
		}
		w.WriteHeader(http.StatusNoContent)
		return http.StatusNoContent
	case len(p) >= 3 && p[0] == "repos":
		return s.routeRepo(w, r, p[1], p[2], p[3:])
	}
	return notFound(w)
}

// routeRepo serves /repos/{owner}/{name}/rest….
func (s *Server) routeRepo(w http.ResponseWriter, r *http.Request, owner, name string, rest []string) int {
	m := r.Method
	if m == http.MethodPost && len(rest) == 1 && rest[0] == "generate" {
		return s.generate(w, r, owner, name)
	}
	rp := s.find(owner, name)
	if rp == nil {
		return notFound(w)
	}
	switch {
	case len(rest) == 0 && m == http.MethodGet:
		writeJSON(w, http.StatusOK, s.repoJSON(rp))
		return http.StatusOK
	case len(rest) == 0 && m == http.MethodPatch:
		var body struct {
			Description   *string `json:"description"`
			Private       *bool   `json:"private"`
			DefaultBranch *string `json:"default_branch"`
		}
		if err := decode(r, &body); err != nil {
			return unprocessable(w, "Problems parsing JSON")
		}
		s.mu.Lock()
		if body.Description != nil {
			rp.Description = *body.Description
		}
		if body.Private != nil {
			rp.Private = *body.Private
		}
		if body.DefaultBranch != nil {
			rp.DefaultBranch = *body.DefaultBranch
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, s.repoJSON(rp))
		return http.StatusOK
	case len(rest) == 0 && m == http.MethodDelete:
		s.mu.Lock()
		delete(s.repos, key(owner, name))
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return http.StatusNoContent
	case len(rest) == 1 && rest[0] == "topics" && m == http.MethodGet:
		s.mu.Lock()
		names := append([]string{}, rp.Topics...)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"names": names})
		return http.StatusOK
	case len(rest) == 1 && rest[0] == "topics" && m == http.MethodPut:
		var body struct {
			Names []string `json:"names"`
		}
		if err := decode(r, &body); err != nil {
			return unprocessable(w, "Problems parsing JSON")
		}
		s.mu.Lock()
		rp.Topics = append([]string{}, body.Names...)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"names": body.Names})
		return http.StatusOK
	case len(rest) >= 1 && rest[0] == "keys":
		return s.keys(w, r, rp, rest[1:])
	}
	return notFound(w)
}

func (s *Server) find(owner, name string) *repo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.repos[key(owner, name)]
}

// createRepo is POST /orgs/{org}/repos and POST /user/repos.
func (s *Server) createRepo(w http.ResponseWriter, r *http.Request, owner string) int {
	var body struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		Private     bool   `json:"private"`
		AutoInit    bool   `json:"auto_init"`
		IsTemplate  bool   `json:"is_template"`
	}
	if err := decode(r, &body); err != nil || body.Name == "" {
		return unprocessable(w, "Repository creation failed.", map[string]string{"resource": "Repository", "code": "missing_field", "field": "name"})
	}
	s.mu.Lock()
	if s.repos[key(owner, body.Name)] != nil {
		s.mu.Unlock()
		return unprocessable(w, "Repository creation failed.", map[string]string{
			"resource": "Repository", "code": "custom", "field": "name", "message": "name already exists on this account"})
	}
	rp := s.newRepo(owner, body.Name, body.Private)
	rp.Description, rp.IsTemplate = body.Description, body.IsTemplate
	s.mu.Unlock()
	if body.AutoInit {
		rp.git.Commit("main", "Initial commit", map[string]string{"README.md": "# " + body.Name + "\n"})
	}
	writeJSON(w, http.StatusCreated, s.repoJSON(rp))
	return http.StatusCreated
}

// generate is POST /repos/{template_owner}/{template_repo}/generate: a new repository whose
// one commit has the template's tree.
func (s *Server) generate(w http.ResponseWriter, r *http.Request, owner, name string) int {
	tmpl := s.find(owner, name)
	if tmpl == nil {
		return notFound(w)
	}
	var body struct {
		Owner       string `json:"owner"`
		Name        string `json:"name"`
		Description string `json:"description"`
		Private     bool   `json:"private"`
	}
	if err := decode(r, &body); err != nil || body.Name == "" {
		return unprocessable(w, "Problems parsing JSON")
	}
	if !tmpl.IsTemplate {
		return unprocessable(w, "Invalid request.\n\n"+owner+"/"+name+" is not a template repository.")
	}
	if !s.orgExists(body.Owner) && !s.userExists(body.Owner) {
		return notFound(w)
	}
	s.mu.Lock()
	if s.repos[key(body.Owner, body.Name)] != nil {
		s.mu.Unlock()
		return unprocessable(w, "Could not clone: Name already exists on this account")
	}
	rp := s.newRepo(body.Owner, body.Name, body.Private)
	rp.Description = body.Description
	s.mu.Unlock()
	if tmpl.git.Git("for-each-ref", "refs/heads/"+tmpl.DefaultBranch) != "" {
		rp.git.Git("fetch", "-q", tmpl.git.Dir, "refs/heads/"+tmpl.DefaultBranch+":refs/template")
		sha := rp.git.Git("commit-tree", "refs/template^{tree}", "-m", "Initial commit")
		rp.git.Git("update-ref", "refs/heads/main", sha)
		rp.git.Git("update-ref", "-d", "refs/template")
	}
	writeJSON(w, http.StatusCreated, s.repoJSON(rp))
	return http.StatusCreated
}

// keys serves /repos/{owner}/{name}/keys[/{id}].
func (s *Server) keys(w http.ResponseWriter, r *http.Request, rp *repo, rest []string) int {
	switch {
	case len(rest) == 0 && r.Method == http.MethodGet:
		s.mu.Lock()
		out := make([]map[string]any, 0, len(rp.Keys))
		for _, k := range rp.Keys {
			out = append(out, keyJSON(k))
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
		return http.StatusOK
	case len(rest) == 0 && r.Method == http.MethodPost:
		var body struct {
			Title    string `json:"title"`
			Key      string `json:"key"`
			ReadOnly bool   `json:"read_only"`
		}
		if err := decode(r, &body); err != nil {
			return unprocessable(w, "Problems parsing JSON")
		}
		pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(body.Key))
		if err != nil {
			return unprocessable(w, "Validation Failed", map[string]string{"resource": "PublicKey", "code": "custom", "field": "key", "message": "key is invalid. You must supply a key in OpenSSH public key format"})
		}
		s.mu.Lock()
		s.nextID++
		k := deployKey{ID: s.nextID, Title: body.Title, Key: strings.TrimSpace(body.Key), ReadOnly: body.ReadOnly, parsed: pub}
		rp.Keys = append(rp.Keys, k)
		s.mu.Unlock()
		writeJSON(w, http.StatusCreated, keyJSON(k))
		return http.StatusCreated
	case len(rest) == 1 && r.Method == http.MethodDelete:
		id, _ := strconv.ParseInt(rest[0], 10, 64)
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, k := range rp.Keys {
			if k.ID == id {
				rp.Keys = append(rp.Keys[:i], rp.Keys[i+1:]...)
				w.WriteHeader(http.StatusNoContent)
				return http.StatusNoContent
			}
		}
		return notFound(w)
	}
	return notFound(w)
}

func keyJSON(k deployKey) map[string]any {
	return map[string]any{"id": k.ID, "title": k.Title, "key": k.Key, "read_only": k.ReadOnly, "verified": true}
}

// repoJSON is a repository in GitHub's shape.
func (s *Server) repoJSON(rp *repo) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	full := rp.Owner + "/" + rp.Name
	visibility := "public"
	if rp.Private {
		visibility = "private"
	}
	return map[string]any{
		"id": rp.ID, "name": rp.Name, "full_name": full,
		"owner":   map[string]any{"login": rp.Owner},
		"private": rp.Private, "visibility": visibility, "description": rp.Description,
		"html_url":       s.URL + "/" + full,
		"clone_url":      s.Git.RepoURL(full + ".git"),
		"ssh_url":        s.GitSSH.RepoURL(full + ".git"),
		"default_branch": rp.DefaultBranch, "is_template": rp.IsTemplate,
		"topics": append([]string{}, rp.Topics...),
	}
}
