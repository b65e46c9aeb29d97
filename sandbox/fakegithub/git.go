package fakegithub

import (
	"cmp"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// commit is a git commit object. Its sha is git's: the SHA-1 of the object's canonical text.
// There are no files: a commit's tree is a stand-in hashed from its parents' trees and message.
type commit struct {
	sha     string
	tree    string
	parents []string
	message string
	author  string // a GitHub login; the git identity is derived from it (see gitIdentity)
	date    time.Time
}

// tagObject is an annotated tag.
type tagObject struct {
	sha         string
	tag         string
	message     string
	object      string // the tagged commit
	taggerName  string
	taggerEmail string
	date        time.Time
}

func gitHash(kind string, content string) string {
	sum := sha1.Sum(fmt.Appendf(nil, "%s %d\x00%s", kind, len(content), content))
	return hex.EncodeToString(sum[:])
}

// gitIdentity is the name and email git records for a login.
func gitIdentity(login string) (name, email string) {
	if login == "" {
		return "", ""
	}
	return strings.ToUpper(login[:1]) + login[1:], login + "@example.com"
}

// newCommit stores a commit with the given parents and returns it.
func (st *state) newCommit(parents []string, message, author string, date time.Time) *commit {
	var tree strings.Builder
	for _, p := range parents {
		tree.WriteString(st.commits[p].tree)
	}
	tree.WriteString(message)
	c := &commit{
		tree:    gitHash("tree", tree.String()),
		parents: parents,
		message: message,
		author:  author,
		date:    date.UTC().Truncate(time.Second),
	}
	name, email := gitIdentity(author)
	var text strings.Builder
	fmt.Fprintf(&text, "tree %s\n", c.tree)
	for _, p := range parents {
		fmt.Fprintf(&text, "parent %s\n", p)
	}
	signature := fmt.Sprintf("%s <%s> %d +0000", name, email, c.date.Unix())
	fmt.Fprintf(&text, "author %s\ncommitter %s\n\n%s\n", signature, signature, message)
	c.sha = gitHash("commit", text.String())
	st.commits[c.sha] = c
	return c
}

func (st *state) newTagObject(tag, message, object, taggerName, taggerEmail string, date time.Time) *tagObject {
	date = date.UTC().Truncate(time.Second)
	t := &tagObject{tag: tag, message: message, object: object, taggerName: taggerName, taggerEmail: taggerEmail, date: date}
	t.sha = gitHash("tag", fmt.Sprintf("object %s\ntype commit\ntag %s\ntagger %s <%s> %d +0000\n\n%s\n",
		object, tag, taggerName, taggerEmail, date.Unix(), message))
	st.tagObjects[t.sha] = t
	return t
}

// peel returns the commit a ref target names, following an annotated tag.
func (st *state) peel(sha string) string {
	if t, ok := st.tagObjects[sha]; ok {
		return t.object
	}
	return sha
}

// resolve finds the commit a name denotes as GitHub does: a full or abbreviated (7+) sha, a
// branch, a tag, or a ref path such as heads/main or refs/tags/v1.0.0.
func (st *state) resolve(name string) (*commit, bool) {
	if c, ok := st.commits[name]; ok {
		return c, true
	}
	for _, ref := range []string{"refs/heads/" + name, "refs/tags/" + name, "refs/" + name, name} {
		if sha, ok := st.refs[ref]; ok {
			return st.commits[st.peel(sha)], true
		}
	}
	if len(name) >= 7 && isHex(name) {
		for sha, c := range st.commits {
			if strings.HasPrefix(sha, name) {
				return c, true
			}
		}
	}
	return nil, false
}

func isHex(s string) bool {
	return strings.Trim(s, "0123456789abcdef") == ""
}

// ancestors returns every commit reachable from sha, itself included.
func (st *state) ancestors(sha string) map[string]bool {
	seen := map[string]bool{}
	queue := []string{sha}
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		if seen[next] {
			continue
		}
		c, ok := st.commits[next]
		if !ok {
			continue
		}
		seen[next] = true
		queue = append(queue, c.parents...)
	}
	return seen
}

// between returns the commits reachable from head and not from base, oldest first, as
// "git log base..head --reverse" would list them.
func (st *state) between(base, head string) []*commit {
	excluded := st.ancestors(base)
	var commits []*commit
	for sha := range st.ancestors(head) {
		if !excluded[sha] {
			commits = append(commits, st.commits[sha])
		}
	}
	st.sortOldestFirst(commits)
	return commits
}

// sortOldestFirst orders commits by date, parents before children when dates tie.
func (st *state) sortOldestFirst(commits []*commit) {
	depth := map[string]int{}
	var depthOf func(sha string) int
	depthOf = func(sha string) int {
		if d, ok := depth[sha]; ok {
			return d
		}
		d := 0
		for _, p := range st.commits[sha].parents {
			d = max(d, depthOf(p)+1)
		}
		depth[sha] = d
		return d
	}
	slices.SortFunc(commits, func(a, b *commit) int {
		return cmp.Or(a.date.Compare(b.date), cmp.Compare(depthOf(a.sha), depthOf(b.sha)), strings.Compare(a.sha, b.sha))
	})
}

// mergeBase is the newest common ancestor of a and b.
func (st *state) mergeBase(a, b string) (*commit, bool) {
	inA := st.ancestors(a)
	var common []*commit
	for sha := range st.ancestors(b) {
		if inA[sha] {
			common = append(common, st.commits[sha])
		}
	}
	if len(common) == 0 {
		return nil, false
	}
	st.sortOldestFirst(common)
	return common[len(common)-1], true
}

// setRef points ref at sha and moves the head of every open pull request from that branch.
func (st *state) setRef(ref, sha string) {
	st.refs[ref] = sha
	branch, ok := strings.CutPrefix(ref, "refs/heads/")
	if !ok {
		return
	}
	for _, pr := range st.pulls {
		if pr.State == "open" && pr.Head == branch {
			pr.HeadSHA = sha
		}
	}
}

// refNames returns the names of refs starting with prefix, sorted.
func (st *state) refNames(prefix string) []string {
	var names []string
	for name := range st.refs {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}
