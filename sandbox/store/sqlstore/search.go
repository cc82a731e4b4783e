package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/sandkasse/sandkasse/sandbox/store"
)

// maxPrefix is appended to a prefix to bound the range of strings that
// start with it: U+10FFFF sorts after every other code point, bytewise too.
const maxPrefix = "\U0010FFFF"

type builder struct {
	b    strings.Builder
	args []any
}

func (b *builder) w(s string, args ...any) {
	b.b.WriteString(s)
	b.args = append(b.args, args...)
}

// where writes the conditions a resource row r must meet.
func where(b *builder, tenant string, q store.Query) error {
	b.w(` FROM resources r WHERE r.tenant = ? AND r.type = ? AND r.deleted = 0`, tenant, q.Type)
	for _, c := range q.Where {
		if len(c.Any) == 0 {
			return fmt.Errorf("sqlstore: clause on %q has no condition", c.Param)
		}
		switch c.Param {
		case "_id":
			if c.Not {
				b.w(` AND NOT (`)
			} else {
				b.w(` AND (`)
			}
			for i, cond := range c.Any {
				if i > 0 {
					b.w(` OR `)
				}
				if err := condSQL(b, cond, "r.id", "", "", ""); err != nil {
					return err
				}
			}
			b.w(`)`)
		case "_lastUpdated":
			if c.Not {
				b.w(` AND NOT (`)
			} else {
				b.w(` AND (`)
			}
			for i, cond := range c.Any {
				if i > 0 {
					b.w(` OR `)
				}
				if err := condSQL(b, cond, "", "", "r.updated_ms", "(r.updated_ms + 1)"); err != nil {
					return err
				}
			}
			b.w(`)`)
		default:
			if c.Not {
				b.w(` AND r.id NOT IN (`)
			} else {
				b.w(` AND r.id IN (`)
			}
			b.w(`SELECT i.id FROM search_index i WHERE i.tenant = ? AND i.type = ? AND i.param = ? AND (`, tenant, q.Type, c.Param)
			for i, cond := range c.Any {
				if i > 0 {
					b.w(` OR `)
				}
				if err := condSQL(b, cond, "i.val", "i.sys", "i.lo", "i.hi"); err != nil {
					return err
				}
			}
			b.w(`))`)
		}
	}
	return nil
}

// condSQL writes one condition on the columns given.
func condSQL(b *builder, c store.Cond, val, sys, lo, hi string) error {
	switch c.Kind {
	case store.MatchExact:
		b.w(val+` = ?`, c.Value)
	case store.MatchToken:
		switch {
		case sys == "":
			b.w(val+` = ?`, c.Value)
		case c.HasSystem && c.Value != "":
			b.w(`(`+sys+` = ? AND `+val+` = ?)`, c.System, c.Value)
		case c.HasSystem:
			b.w(sys+` = ?`, c.System)
		default:
			b.w(val+` = ?`, c.Value)
		}
	case store.MatchPrefix:
		b.w(`(`+val+` >= ? AND `+val+` < ?)`, c.Value, c.Value+maxPrefix)
	case store.MatchContains:
		b.w(val+` LIKE ? ESCAPE '\'`, "%"+likeEscape(c.Value)+"%")
	case store.MatchRange:
		if lo == "" {
			return fmt.Errorf("sqlstore: a range condition on a param without ranges")
		}
		// [lo, hi) of the entry against [c.Lo, c.Hi) of the search value.
		switch c.Cmp {
		case "", "eq":
			b.w(`(`+lo+` >= ? AND `+hi+` <= ?)`, c.Lo, c.Hi)
		case "ne":
			b.w(`NOT (`+lo+` >= ? AND `+hi+` <= ?)`, c.Lo, c.Hi)
		case "gt":
			b.w(hi+` > ?`, c.Hi)
		case "lt":
			b.w(lo+` < ?`, c.Lo)
		case "ge":
			b.w(hi+` > ?`, c.Lo)
		case "le":
			b.w(lo+` < ?`, c.Hi)
		case "sa":
			b.w(lo+` >= ?`, c.Hi)
		case "eb":
			b.w(hi+` <= ?`, c.Lo)
		default:
			return fmt.Errorf("sqlstore: unknown comparator %q", c.Cmp)
		}
	default:
		return fmt.Errorf("sqlstore: unknown condition kind %d", c.Kind)
	}
	return nil
}

func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

func (db *DB) search(ctx context.Context, q querier, tenant string, qu store.Query) (store.Page, error) {
	page := store.Page{Total: -1}
	if qu.Total {
		var b builder
		b.w(`SELECT COUNT(*)`)
		if err := where(&b, tenant, qu); err != nil {
			return page, err
		}
		if err := q.QueryRowContext(ctx, db.bind(b.b.String()), b.args...).Scan(&page.Total); err != nil {
			return page, err
		}
	}
	if qu.Count <= 0 {
		return page, nil
	}
	var b builder
	b.w(`SELECT r.type, r.id, r.version, r.updated_ms, r.deleted, r.body`)
	if err := where(&b, tenant, qu); err != nil {
		return page, err
	}
	b.w(` ORDER BY `)
	for _, k := range qu.Sort {
		var expr string
		switch {
		case k.Param == "_id":
			expr = "r.id"
		case k.Param == "_lastUpdated":
			expr = "r.updated_ms"
		default:
			col, agg := "i.val", "MIN"
			if k.Range {
				col = "i.lo"
				if k.Desc {
					col = "i.hi"
				}
			}
			if k.Desc {
				agg = "MAX"
			}
			expr = `(SELECT ` + agg + `(` + col + `) FROM search_index i WHERE i.tenant = r.tenant AND i.type = r.type AND i.id = r.id AND i.param = ?)`
		}
		dir := " ASC"
		if k.Desc {
			dir = " DESC"
		}
		// Resources without the param go last either way, in both dialects
		// (SQLite sorts NULL first, PostgreSQL last).
		if expr[0] == '(' {
			b.w(`CASE WHEN `+expr+` IS NULL THEN 1 ELSE 0 END, `, k.Param)
			b.w(expr+dir+`, `, k.Param)
		} else {
			b.w(expr + dir + `, `)
		}
	}
	b.w(`r.id LIMIT ? OFFSET ?`, qu.Count, max(qu.Offset, 0))
	rows, err := q.QueryContext(ctx, db.bind(b.b.String()), b.args...)
	if err != nil {
		return page, err
	}
	size := 0
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			rows.Close()
			return page, err
		}
		page.Resources = append(page.Resources, r)
		// Stop reading rows once the bodies exceed MaxBytes: the page
		// ends early and the next starts after its last resource.
		if size += len(r.Body); qu.MaxBytes > 0 && size > qu.MaxBytes && len(page.Resources) < qu.Count {
			page.Cut = true
			break
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return page, err
	}
	if len(qu.Include) > 0 && len(page.Resources) > 0 {
		page.Included, err = db.included(ctx, q, tenant, qu, page.Resources)
	}
	return page, err
}

// included returns the resources the page's resources reference through
// the params named in qu.Include, each once, none that is on the page.
func (db *DB) included(ctx context.Context, q querier, tenant string, qu store.Query, rs []store.Resource) ([]store.Resource, error) {
	var b builder
	b.w(`SELECT DISTINCT i.val FROM search_index i WHERE i.tenant = ? AND i.type = ? AND i.param IN (`, tenant, qu.Type)
	for i, p := range qu.Include {
		if i > 0 {
			b.w(`, `)
		}
		b.w(`?`, p)
	}
	b.w(`) AND i.id IN (`)
	for i, r := range rs {
		if i > 0 {
			b.w(`, `)
		}
		b.w(`?`, r.ID)
	}
	b.w(`) ORDER BY i.val`)
	rows, err := q.QueryContext(ctx, db.bind(b.b.String()), b.args...)
	if err != nil {
		return nil, err
	}
	var refs []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return nil, err
		}
		refs = append(refs, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	onPage := map[string]bool{}
	for _, r := range rs {
		onPage[r.Type+"/"+r.ID] = true
	}
	var out []store.Resource
	for _, ref := range refs {
		typ, id, ok := strings.Cut(ref, "/")
		if !ok || onPage[ref] {
			continue
		}
		r, err := db.read(ctx, q, tenant, typ, id)
		if err != nil || r.Deleted {
			continue // a dangling reference includes nothing
		}
		out = append(out, r)
	}
	return out, nil
}
