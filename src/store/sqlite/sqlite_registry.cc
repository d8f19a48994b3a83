// SqliteStore's registry half: things, thing groups and memberships.
#include <charconv>
#include <map>

#include "store/sqlite/sqlite_internal.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_txn.h"

namespace iotjobs::store {
namespace {

struct Row {
  int64_t id = 0;
  int64_t version = 0;
};

// The internal id and version of thing `name`, or NotFound.
Result<Row> ThingRow(SqliteDb& db, const std::string& region, const std::string& name) {
  IOTJOBS_PREPARE(s, db, "SELECT id, version FROM things WHERE region = ?1 AND name = ?2");
  IOTJOBS_RETURN_IF_ERROR(StepToNamed(s, region, name, "thing"));
  return Row{s.Int(0), s.Int(1)};
}

struct GroupRow {
  int64_t id = 0, version = 0, depth = 0, root = 0;
};

Result<GroupRow> ThingGroupRow(SqliteDb& db, const std::string& region, const std::string& name) {
  IOTJOBS_PREPARE(
      s, db, "SELECT id, version, depth, root FROM thing_groups WHERE region = ?1 AND name = ?2");
  IOTJOBS_RETURN_IF_ERROR(StepToNamed(s, region, name, "thing group"));
  return GroupRow{s.Int(0), s.Int(1), s.Int(2), s.Int(3)};
}

Status PutThingAttributes(SqliteDb& db, int64_t thing, const jobs::Attributes& attributes) {
  IOTJOBS_PREPARE(del, db, "DELETE FROM thing_attributes WHERE thing = ?1");
  IOTJOBS_RETURN_IF_ERROR(del.Bind(1, thing).Run());
  for (const auto& [k, v] : attributes) {
    IOTJOBS_PREPARE(ins, db,
                    "INSERT INTO thing_attributes(thing, name, value) VALUES (?1, ?2, ?3)");
    IOTJOBS_RETURN_IF_ERROR(ins.Bind(1, thing).Bind(2, k).Bind(3, v).Run());
  }
  return Status::Ok();
}

Status PutGroupAttributes(SqliteDb& db, int64_t grp, const jobs::Attributes& attributes) {
  IOTJOBS_PREPARE(del, db, "DELETE FROM group_attributes WHERE grp = ?1");
  IOTJOBS_RETURN_IF_ERROR(del.Bind(1, grp).Run());
  for (const auto& [k, v] : attributes) {
    IOTJOBS_PREPARE(ins, db, "INSERT INTO group_attributes(grp, name, value) VALUES (?1, ?2, ?3)");
    IOTJOBS_RETURN_IF_ERROR(ins.Bind(1, grp).Bind(2, k).Bind(3, v).Run());
  }
  return Status::Ok();
}

Result<jobs::Attributes> ThingAttributes(SqliteDb& db, int64_t thing) {
  IOTJOBS_PREPARE(s, db, "SELECT name, value FROM thing_attributes WHERE thing = ?1");
  s.Bind(1, thing);
  jobs::Attributes out;
  Status st;
  while (s.Step(&st)) out.emplace(s.Text(0), s.Text(1));
  if (!st.ok()) return st;
  return out;
}

Result<jobs::Attributes> GroupAttributes(SqliteDb& db, int64_t grp) {
  IOTJOBS_PREPARE(s, db, "SELECT name, value FROM group_attributes WHERE grp = ?1");
  s.Bind(1, grp);
  jobs::Attributes out;
  Status st;
  while (s.Step(&st)) out.emplace(s.Text(0), s.Text(1));
  if (!st.ok()) return st;
  return out;
}

// Reads the thing row of `s` (columns: id, region, name, thing_id, thing_type, billing_group,
// version) plus its attributes.
Result<jobs::Thing> ThingFromRow(SqliteDb& db, const Stmt& s) {
  jobs::Thing t;
  t.region = s.Text(1);
  t.name = s.Text(2);
  t.id = s.Text(3);
  t.thing_type_name = s.OptText(4);
  t.billing_group_name = s.OptText(5);
  t.version = s.Int(6);
  auto attrs = ThingAttributes(db, s.Int(0));
  if (!attrs.ok()) return attrs.status();
  t.attributes = std::move(attrs).value();
  return t;
}

Status VersionConflict(const std::string& what, int64_t have, int64_t want) {
  return Status(Code::kVersionConflict,
                what + " is at version " + std::to_string(have) + ", not " + std::to_string(want));
}

// Steps `s` (a query with LIMIT limit + 1) into a page: `row(s)` makes each item (a T, or a
// Result<T> whose error ends the read). When the extra row came back the page keeps `limit` items
// and the next one resumes after `key(items, limit - 1)`.
template <typename T, typename Row, typename Key>
Result<Page<T>> ReadPage(Stmt& s, int limit, Row row, Key key) {
  Page<T> page;
  Status st;
  while (s.Step(&st)) {
    if constexpr (requires { row(s).status(); }) {
      auto item = row(s);
      if (!item.ok()) return item.status();
      page.items.push_back(std::move(item).value());
    } else {
      page.items.push_back(row(s));
    }
  }
  if (!st.ok()) return st;
  if (static_cast<int>(page.items.size()) > limit) {
    std::string next = key(page.items, limit - 1);
    page.items.resize(limit);
    page.next_after = std::move(next);
  }
  return page;
}

// The key of a page ordered by name.
template <typename T>
std::string NameAt(const std::vector<T>& items, int i) {
  return items[i].name;
}

}  // namespace

// The rules' hooks: the observer with a Txn over the writer's connection, in the registry write's
// transaction; without one, registry writes change nothing else.
Status SqliteStore::MembershipAdded(SqliteDb& db, int64_t thing, int64_t grp, Instant now) {
  RegistryObserver* o = observer_.load();
  if (!o) return Status::Ok();
  SqliteTxn txn(db, /*writable=*/true, options_.track_thing_changes);
  return o->OnMembershipAdded(txn, thing, grp, now);
}

Status SqliteStore::MembershipRemoved(SqliteDb& db, int64_t thing, int64_t grp, Instant now) {
  RegistryObserver* o = observer_.load();
  if (!o) return Status::Ok();
  SqliteTxn txn(db, /*writable=*/true, options_.track_thing_changes);
  return o->OnMembershipRemoved(txn, thing, grp, now);
}

Status SqliteStore::ThingDeleting(SqliteDb& db, int64_t thing, Instant now) {
  RegistryObserver* o = observer_.load();
  if (!o) return Status::Ok();
  SqliteTxn txn(db, /*writable=*/true, options_.track_thing_changes);
  return o->OnThingDeleting(txn, thing, now);
}

Status SqliteStore::CreateThing(const jobs::Thing& t) {
  return Write([&](SqliteDb& db) -> Status {
    IOTJOBS_PREPARE(
        s, db,
        "INSERT INTO things(region, name, thing_id, thing_type, billing_group, version) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING");
    IOTJOBS_RETURN_IF_ERROR(s.Bind(1, t.region)
                                .Bind(2, t.name)
                                .Bind(3, t.id)
                                .Bind(4, t.thing_type_name)
                                .Bind(5, t.billing_group_name)
                                .Bind(6, t.version)
                                .Run());
    if (db.Changes() == 0) return Status::Conflict("thing " + t.name + " already exists");
    return PutThingAttributes(db, sqlite3_last_insert_rowid(db.raw()), t.attributes);
  });
}

Result<jobs::Thing> SqliteStore::GetThing(const std::string& region, const std::string& name) {
  return Read<jobs::Thing>([&](SqliteDb& db) -> Result<jobs::Thing> {
    IOTJOBS_PREPARE(s, db,
                    "SELECT id, region, name, thing_id, thing_type, billing_group, version "
                    "FROM things WHERE region = ?1 AND name = ?2");
    IOTJOBS_RETURN_IF_ERROR(StepToNamed(s, region, name, "thing"));
    return ThingFromRow(db, s);
  });
}

Result<Page<jobs::Thing>> SqliteStore::ListThings(const std::string& region,
                                                  const ThingFilter& filter,
                                                  const std::string& after, int limit) {
  using P = Page<jobs::Thing>;
  return Read<P>([&](SqliteDb& db) -> Result<P> {
    IOTJOBS_PREPARE(
        s, db,
        "SELECT t.id, t.region, t.name, t.thing_id, t.thing_type, t.billing_group, t.version "
        "FROM things t WHERE t.region = ?1 AND t.name > ?2 "
        "AND (?4 IS NULL OR t.thing_type = ?4) "
        "AND (?5 IS NULL OR EXISTS (SELECT 1 FROM thing_attributes a WHERE a.thing = t.id "
        "     AND a.name = ?5 AND CASE WHEN ?7 THEN substr(a.value, 1, length(?6)) = ?6 "
        "                              ELSE a.value = ?6 END)) "
        "ORDER BY t.name LIMIT ?3");
    s.Bind(1, region).Bind(2, after).Bind(3, static_cast<int64_t>(limit) + 1);
    if (!filter.thing_type_name.empty()) s.Bind(4, filter.thing_type_name);
    if (!filter.attribute_name.empty()) {
      s.Bind(5, filter.attribute_name).Bind(6, filter.attribute_value);
    }
    s.Bind(7, static_cast<int64_t>(filter.prefix_value ? 1 : 0));
    return ReadPage<jobs::Thing>(
        s, limit, [&](Stmt& r) { return ThingFromRow(db, r); }, NameAt<jobs::Thing>);
  });
}

Status SqliteStore::UpdateThing(const jobs::Thing& t, int64_t expected_version) {
  return Write([&](SqliteDb& db) -> Status {
    auto row = ThingRow(db, t.region, t.name);
    if (!row.ok()) return row.status();
    if (row->version != expected_version) {
      return VersionConflict("thing " + t.name, row->version, expected_version);
    }
    IOTJOBS_PREPARE(s, db,
                    "UPDATE things SET thing_type = ?2, billing_group = ?3, version = ?4 "
                    "WHERE id = ?1");
    IOTJOBS_RETURN_IF_ERROR(s.Bind(1, row->id)
                                .Bind(2, t.thing_type_name)
                                .Bind(3, t.billing_group_name)
                                .Bind(4, t.version)
                                .Run());
    return PutThingAttributes(db, row->id, t.attributes);
  });
}

Status SqliteStore::DeleteThing(const std::string& region, const std::string& name,
                                int64_t expected_version, Instant now) {
  return Write([&](SqliteDb& db) -> Status {
    auto row = ThingRow(db, region, name);
    if (!row.ok()) return row.status();
    if (expected_version >= 0 && row->version != expected_version) {
      return VersionConflict("thing " + name, row->version, expected_version);
    }
    IOTJOBS_RETURN_IF_ERROR(ThingDeleting(db, row->id, now));
    IOTJOBS_PREPARE(tomb, db,
                    "INSERT INTO deleted_things(id, name) SELECT ?1, ?2 WHERE EXISTS "
                    "(SELECT 1 FROM job_executions WHERE thing = ?1)");
    IOTJOBS_RETURN_IF_ERROR(tomb.Bind(1, row->id).Bind(2, name).Run());
    // Its tags go too (keyed by ARN, whose account part the store does not know).
    IOTJOBS_PREPARE(
        tags, db,
        "DELETE FROM tags WHERE arn >= ?1 AND arn < ?2 AND substr(arn, -length(?3)) = ?3");
    IOTJOBS_RETURN_IF_ERROR(tags.Bind(1, "arn:aws:iot:" + region + ":")
                                .Bind(2, "arn:aws:iot:" + region + ";")
                                .Bind(3, ":thing/" + name)
                                .Run());
    IOTJOBS_PREPARE(m, db, "DELETE FROM thing_group_members WHERE thing = ?1");
    IOTJOBS_RETURN_IF_ERROR(m.Bind(1, row->id).Run());
    IOTJOBS_RETURN_IF_ERROR(PutThingAttributes(db, row->id, {}));
    IOTJOBS_PREPARE(d, db, "DELETE FROM things WHERE id = ?1");
    return d.Bind(1, row->id).Run();
  });
}

Status SqliteStore::CreateThingGroup(const jobs::ThingGroup& g, const std::string& arn,
                                     const std::vector<jobs::Tag>& tags) {
  return Write([&](SqliteDb& db) -> Status {
    std::optional<GroupRow> parent;
    if (g.parent_name) {
      auto p = ThingGroupRow(db, g.region, *g.parent_name);
      if (!p.ok()) return p.status();
      if (p->depth + 1 > jobs::kMaxGroupDepth) {
        return Status::InvalidRequest("thing group " + g.name + " would be at depth " +
                                      std::to_string(p->depth + 1) + "; the hierarchy allows " +
                                      std::to_string(jobs::kMaxGroupDepth) + " levels");
      }
      parent = *p;
    }
    IOTJOBS_PREPARE(s, db,
                    "INSERT INTO thing_groups(region, name, group_id, parent, root, depth, "
                    "description, version, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                    "?9) ON CONFLICT DO NOTHING");
    s.Bind(1, g.region).Bind(2, g.name).Bind(3, g.id).Bind(7, g.description).Bind(8, g.version);
    s.Bind(9, ToEpochMillis(g.created_at));
    if (parent) {
      s.Bind(4, parent->id).Bind(5, parent->root).Bind(6, parent->depth + 1);
    } else {
      s.Bind(6, int64_t{1});
    }
    IOTJOBS_RETURN_IF_ERROR(s.Run());
    if (db.Changes() == 0) return Status::Conflict("thing group " + g.name + " already exists");
    int64_t id = sqlite3_last_insert_rowid(db.raw());
    if (!parent) {
      IOTJOBS_PREPARE(r, db, "UPDATE thing_groups SET root = id WHERE id = ?1");
      IOTJOBS_RETURN_IF_ERROR(r.Bind(1, id).Run());
    }
    IOTJOBS_RETURN_IF_ERROR(PutGroupAttributes(db, id, g.attributes));
    return InsertTags(db, arn, tags);
  });
}

Result<jobs::ThingGroup> SqliteStore::GetThingGroup(const std::string& region,
                                                    const std::string& name) {
  return Read<jobs::ThingGroup>([&](SqliteDb& db) -> Result<jobs::ThingGroup> {
    IOTJOBS_PREPARE(s, db,
                    "SELECT id, group_id, parent, description, version, created_at_ms "
                    "FROM thing_groups WHERE region = ?1 AND name = ?2");
    IOTJOBS_RETURN_IF_ERROR(StepToNamed(s, region, name, "thing group"));
    jobs::ThingGroup g;
    g.region = region;
    g.name = name;
    g.id = s.Text(1);
    g.description = s.OptText(3);
    g.version = s.Int(4);
    g.created_at = FromEpochMillis(s.Int(5));
    const int64_t id = s.Int(0);
    if (s.OptText(2)) {
      IOTJOBS_PREPARE(up, db,
                      "WITH RECURSIVE up(id, name, parent, lvl) AS ("
                      "  SELECT id, name, parent, 0 FROM thing_groups WHERE id = ?1"
                      "  UNION ALL SELECT g.id, g.name, g.parent, up.lvl + 1"
                      "  FROM thing_groups g JOIN up ON g.id = up.parent) "
                      "SELECT name FROM up ORDER BY lvl DESC");
      up.Bind(1, s.Int(2));
      Status st;
      while (up.Step(&st)) g.root_to_parent.push_back(up.Text(0));
      if (!st.ok()) return st;
      g.parent_name = g.root_to_parent.back();
    }
    auto attrs = GroupAttributes(db, id);
    if (!attrs.ok()) return attrs.status();
    g.attributes = std::move(attrs).value();
    return g;
  });
}

Result<Page<jobs::ThingGroup>> SqliteStore::ListThingGroups(const std::string& region,
                                                            const GroupFilter& filter,
                                                            const std::string& after, int limit) {
  using P = Page<jobs::ThingGroup>;
  return Read<P>([&](SqliteDb& db) -> Result<P> {
    // ?4: the parent's id (NULL: roots); ?5: 1 for every descendant of ?4 (or every group when
    // ?4 is NULL); ?6: name prefix.
    std::optional<int64_t> parent;
    if (!filter.parent.empty()) {
      auto p = ThingGroupRow(db, region, filter.parent);
      if (!p.ok()) return p.status();
      parent = p->id;
    }
    IOTJOBS_PREPARE(s, db,
                    "WITH RECURSIVE d(id) AS ("
                    "  SELECT id FROM thing_groups WHERE region = ?1 AND ?5 = 1 AND ?4 IS NOT NULL"
                    "    AND parent = ?4"
                    "  UNION ALL SELECT g.id FROM thing_groups g JOIN d ON g.parent = d.id) "
                    "SELECT name, group_id FROM thing_groups WHERE region = ?1 AND name > ?2 "
                    "AND substr(name, 1, length(?6)) = ?6 AND ("
                    "  (?5 = 1 AND ?4 IS NULL) OR (?5 = 0 AND ?4 IS NULL AND parent IS NULL) OR"
                    "  (?5 = 0 AND parent = ?4) OR (?5 = 1 AND id IN d)) "
                    "ORDER BY name LIMIT ?3");
    s.Bind(1, region).Bind(2, after).Bind(3, static_cast<int64_t>(limit) + 1);
    if (parent) s.Bind(4, *parent);
    s.Bind(5, static_cast<int64_t>(filter.recursive ? 1 : 0)).Bind(6, filter.name_prefix);
    auto row = [&](Stmt& r) {
      jobs::ThingGroup g;
      g.region = region;
      g.name = r.Text(0);
      g.id = r.Text(1);
      return g;
    };
    return ReadPage<jobs::ThingGroup>(s, limit, row, NameAt<jobs::ThingGroup>);
  });
}

Status SqliteStore::UpdateThingGroup(const jobs::ThingGroup& g, int64_t expected_version) {
  return Write([&](SqliteDb& db) -> Status {
    auto row = ThingGroupRow(db, g.region, g.name);
    if (!row.ok()) return row.status();
    if (expected_version >= 0 && row->version != expected_version) {
      return VersionConflict("thing group " + g.name, row->version, expected_version);
    }
    IOTJOBS_PREPARE(s, db, "UPDATE thing_groups SET description = ?2, version = ?3 WHERE id = ?1");
    IOTJOBS_RETURN_IF_ERROR(
        s.Bind(1, row->id).Bind(2, g.description).Bind(3, row->version + 1).Run());
    return PutGroupAttributes(db, row->id, g.attributes);
  });
}

Status SqliteStore::DeleteThingGroup(const std::string& region, const std::string& name,
                                     const std::string& arn, int64_t expected_version) {
  return Write([&](SqliteDb& db) -> Status {
    auto row = ThingGroupRow(db, region, name);
    if (!row.ok()) return row.status();
    if (expected_version >= 0 && row->version != expected_version) {
      return VersionConflict("thing group " + name, row->version, expected_version);
    }
    IOTJOBS_PREPARE(c, db, "SELECT 1 FROM thing_groups WHERE parent = ?1 LIMIT 1");
    c.Bind(1, row->id);
    Status st;
    if (c.Step(&st)) {
      return Status::InvalidRequest("Cannot delete thing group " + name +
                                    " when there are still child groups attached");
    }
    IOTJOBS_RETURN_IF_ERROR(st);
    IOTJOBS_PREPARE(m, db, "DELETE FROM thing_group_members WHERE grp = ?1");
    IOTJOBS_RETURN_IF_ERROR(m.Bind(1, row->id).Run());
    IOTJOBS_RETURN_IF_ERROR(PutGroupAttributes(db, row->id, {}));
    IOTJOBS_RETURN_IF_ERROR(DeleteAllTags(db, arn));
    IOTJOBS_PREPARE(d, db, "DELETE FROM thing_groups WHERE id = ?1");
    return d.Bind(1, row->id).Run();
  });
}

namespace {

// Adds `thing` to group `g` with every rule of AddThingToThingGroup checked, then calls `added`
// (the rules' hook) when the membership is new.
template <typename Added>
Status AddMembership(SqliteDb& db, int64_t thing_id, const std::string& thing, const GroupRow& g,
                     const std::string& group, Added added) {
  IOTJOBS_PREPARE(
      s, db,
      "SELECT g.id, g.name, g.root FROM thing_group_members m JOIN thing_groups g ON g.id = m.grp "
      "WHERE m.thing = ?1");
  s.Bind(1, thing_id);
  int count = 0;
  Status st;
  while (s.Step(&st)) {
    if (s.Int(0) == g.id) return Status::Ok();  // already a member
    if (s.Int(2) == g.root) {
      return Status::InvalidRequest("thing " + thing + " is already in thing group " + s.Text(1) +
                                    " of the same hierarchy as " + group);
    }
    ++count;
  }
  IOTJOBS_RETURN_IF_ERROR(st);
  if (count >= jobs::kMaxGroupsPerThing) {
    return Status::InvalidRequest("thing " + thing + " is already in " + std::to_string(count) +
                                  " thing groups, the most a thing can belong to");
  }
  IOTJOBS_PREPARE(i, db, "INSERT INTO thing_group_members(grp, thing) VALUES (?1, ?2)");
  IOTJOBS_RETURN_IF_ERROR(i.Bind(1, g.id).Bind(2, thing_id).Run());
  return added(thing_id, g.id);
}

}  // namespace

Status SqliteStore::AddThingToGroup(const std::string& region, const std::string& thing,
                                    const std::string& group, Instant now) {
  return Write([&](SqliteDb& db) -> Status {
    auto t = ThingRow(db, region, thing);
    if (!t.ok()) return t.status();
    auto g = ThingGroupRow(db, region, group);
    if (!g.ok()) return g.status();
    return AddMembership(db, t->id, thing, *g, group, [&](int64_t thing_id, int64_t grp) {
      return MembershipAdded(db, thing_id, grp, now);
    });
  });
}

Status SqliteStore::RemoveThingFromGroup(const std::string& region, const std::string& thing,
                                         const std::string& group, Instant now) {
  return Write([&](SqliteDb& db) -> Status {
    auto t = ThingRow(db, region, thing);
    if (!t.ok()) return t.status();
    auto g = ThingGroupRow(db, region, group);
    if (!g.ok()) return g.status();
    IOTJOBS_PREPARE(d, db, "DELETE FROM thing_group_members WHERE grp = ?1 AND thing = ?2");
    IOTJOBS_RETURN_IF_ERROR(d.Bind(1, g->id).Bind(2, t->id).Run());
    if (db.Changes() == 0) return Status::Ok();  // was not a member
    return MembershipRemoved(db, t->id, g->id, now);
  });
}

Result<Page<std::string>> SqliteStore::ListThingsInGroup(const std::string& region,
                                                         const std::string& group, bool recursive,
                                                         const std::string& after, int limit) {
  using P = Page<std::string>;
  return Read<P>([&](SqliteDb& db) -> Result<P> {
    auto g = ThingGroupRow(db, region, group);
    if (!g.ok()) return g.status();
    // Ordered by the thing's internal id; the cursor is that id. For direct members the primary
    // key (grp, thing) yields that order without a sort, so a page of a million-thing group costs
    // O(page). The recursive form merges the subtree's groups, which SQLite sorts: a page costs
    // O(members after the cursor). (One query with `grp IN d` for both forms made direct pages
    // cost that too: listing a 200,000-thing group took 40 s.)
    int64_t after_id = 0;
    if (!after.empty()) {
      auto [p, ec] = std::from_chars(after.data(), after.data() + after.size(), after_id);
      if (ec != std::errc() || p != after.data() + after.size()) {
        return Status::InvalidRequest(
            "nextToken is invalid: pass the nextToken of a previous page");
      }
    }
    IOTJOBS_PREPARE(s, db,
                    recursive ? "WITH RECURSIVE d(id) AS (SELECT ?1 UNION ALL "
                                "  SELECT g.id FROM thing_groups g JOIN d ON g.parent = d.id) "
                                "SELECT DISTINCT m.thing, t.name FROM thing_group_members m "
                                "JOIN things t ON t.id = m.thing "
                                "WHERE m.grp IN d AND m.thing > ?2 ORDER BY m.thing LIMIT ?3"
                              : "SELECT m.thing, t.name FROM thing_group_members m "
                                "JOIN things t ON t.id = m.thing "
                                "WHERE m.grp = ?1 AND m.thing > ?2 ORDER BY m.thing LIMIT ?3");
    s.Bind(1, g->id).Bind(2, after_id).Bind(3, static_cast<int64_t>(limit) + 1);
    std::vector<int64_t> ids;  // the page resumes after a thing's id, not its name
    return ReadPage<std::string>(
        s, limit,
        [&](Stmt& r) {
          ids.push_back(r.Int(0));
          return r.Text(1);
        },
        [&](const std::vector<std::string>&, int i) { return std::to_string(ids[i]); });
  });
}

Result<Page<std::string>> SqliteStore::ListGroupsForThing(const std::string& region,
                                                          const std::string& thing,
                                                          const std::string& after, int limit) {
  using P = Page<std::string>;
  return Read<P>([&](SqliteDb& db) -> Result<P> {
    auto t = ThingRow(db, region, thing);
    if (!t.ok()) return t.status();
    IOTJOBS_PREPARE(s, db,
                    "SELECT g.name FROM thing_group_members m JOIN thing_groups g ON g.id = m.grp "
                    "WHERE m.thing = ?1 AND g.name > ?2 ORDER BY g.name LIMIT ?3");
    s.Bind(1, t->id).Bind(2, after).Bind(3, static_cast<int64_t>(limit) + 1);
    return ReadPage<std::string>(
        s, limit, [](Stmt& r) { return r.Text(0); },
        [](const std::vector<std::string>& items, int i) { return items[i]; });
  });
}

Result<std::vector<Status>> SqliteStore::RegisterThings(
    const std::string& region, const std::vector<jobs::ThingRegistration>& items, Instant now) {
  std::vector<Status> results;
  Status st = Write([&](SqliteDb& db) -> Status {
    results.assign(items.size(), Status::Ok());
    std::map<std::string, Result<GroupRow>> groups;  // lookups cached for the batch
    for (size_t i = 0; i < items.size(); ++i) {
      const jobs::Thing& t = items[i].thing;
      // Each item in its own savepoint: a failing line leaves no half-registered thing.
      IOTJOBS_RETURN_IF_ERROR(db.Run("SAVEPOINT item"));
      Status item = [&]() -> Status {
        IOTJOBS_PREPARE(ins, db,
                        "INSERT INTO things(region, name, thing_id, thing_type, billing_group, "
                        "version) VALUES (?1, ?2, ?3, ?4, ?5, 1) ON CONFLICT DO NOTHING");
        IOTJOBS_RETURN_IF_ERROR(ins.Bind(1, region)
                                    .Bind(2, t.name)
                                    .Bind(3, t.id)
                                    .Bind(4, t.thing_type_name)
                                    .Bind(5, t.billing_group_name)
                                    .Run());
        int64_t thing_id;
        if (db.Changes() == 1) {
          thing_id = sqlite3_last_insert_rowid(db.raw());
          IOTJOBS_RETURN_IF_ERROR(PutThingAttributes(db, thing_id, t.attributes));
        } else {
          // Registered before (a re-run, or a duplicate line): fine when identical.
          IOTJOBS_PREPARE(e, db,
                          "SELECT id, region, name, thing_id, thing_type, billing_group, version "
                          "FROM things WHERE region = ?1 AND name = ?2");
          e.Bind(1, region).Bind(2, t.name);
          Status est;
          if (!e.Step(&est)) return est.ok() ? Status::Internal("thing vanished") : est;
          auto existing = ThingFromRow(db, e);
          if (!existing.ok()) return existing.status();
          if (existing->thing_type_name != t.thing_type_name ||
              existing->billing_group_name != t.billing_group_name ||
              existing->attributes != t.attributes) {
            return Status(Code::kAlreadyExists,
                          "thing " + t.name + " already exists with a different configuration");
          }
          thing_id = e.Int(0);
        }
        for (const auto& name : items[i].groups) {
          auto it = groups.find(name);
          if (it == groups.end()) it = groups.emplace(name, ThingGroupRow(db, region, name)).first;
          if (!it->second.ok()) return it->second.status();
          // The rules' writes (a continuous job's new execution) fall in this item's savepoint.
          IOTJOBS_RETURN_IF_ERROR(AddMembership(
              db, thing_id, t.name, *it->second, name,
              [&](int64_t thing, int64_t grp) { return MembershipAdded(db, thing, grp, now); }));
        }
        return Status::Ok();
      }();
      if (!item.ok()) {
        results[i] = item;
        IOTJOBS_RETURN_IF_ERROR(db.Run("ROLLBACK TO item"));
      }
      IOTJOBS_RETURN_IF_ERROR(db.Run("RELEASE item"));
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return results;
}

namespace {

jobs::RegistrationTask TaskFromRow(const Stmt& s) {
  // task_id, region, status, template_body, bucket, input_key, role_arn, message,
  // success_count, failure_count, percentage, created_at_ms, updated_at_ms
  jobs::RegistrationTask t;
  t.id = s.Text(0);
  t.region = s.Text(1);
  t.status = s.Text(2);
  t.template_body = s.Text(3);
  t.bucket = s.Text(4);
  t.key = s.Text(5);
  t.role_arn = s.Text(6);
  t.message = s.OptText(7);
  t.success_count = s.Int(8);
  t.failure_count = s.Int(9);
  t.percentage = static_cast<int32_t>(s.Int(10));
  t.created_at = FromEpochMillis(s.Int(11));
  t.updated_at = FromEpochMillis(s.Int(12));
  return t;
}

#define IOTJOBS_TASK_COLUMNS                                                       \
  "task_id, region, status, template_body, bucket, input_key, role_arn, message, " \
  "success_count, failure_count, percentage, created_at_ms, updated_at_ms, seq"

}  // namespace

Status SqliteStore::CreateRegistrationTask(const jobs::RegistrationTask& t) {
  return Write([&](SqliteDb& db) -> Status {
    IOTJOBS_PREPARE(
        s, db,
        "INSERT INTO registration_tasks(task_id, region, status, template_body, bucket, "
        "input_key, role_arn, created_at_ms, updated_at_ms, seq) VALUES (?1, ?2, ?3, "
        "?4, ?5, ?6, ?7, ?8, ?8, (SELECT coalesce(max(seq), 0) + 1 FROM "
        "registration_tasks))");
    return s.Bind(1, t.id)
        .Bind(2, t.region)
        .Bind(3, t.status)
        .Bind(4, t.template_body)
        .Bind(5, t.bucket)
        .Bind(6, t.key)
        .Bind(7, t.role_arn)
        .Bind(8, ToEpochMillis(t.created_at))
        .Run();
  });
}

Status SqliteStore::UpdateRegistrationTask(const jobs::RegistrationTask& t) {
  return Write([&](SqliteDb& db) -> Status {
    IOTJOBS_PREPARE(s, db,
                    "UPDATE registration_tasks SET status = ?2, message = ?3, success_count = ?4, "
                    "failure_count = ?5, percentage = ?6, updated_at_ms = ?7 WHERE task_id = ?1");
    IOTJOBS_RETURN_IF_ERROR(s.Bind(1, t.id)
                                .Bind(2, t.status)
                                .Bind(3, t.message)
                                .Bind(4, t.success_count)
                                .Bind(5, t.failure_count)
                                .Bind(6, static_cast<int64_t>(t.percentage))
                                .Bind(7, ToEpochMillis(t.updated_at))
                                .Run());
    if (db.Changes() == 0) return Status::NotFound("registration task " + t.id + " does not exist");
    return Status::Ok();
  });
}

Result<jobs::RegistrationTask> SqliteStore::GetRegistrationTask(const std::string& region,
                                                                const std::string& id) {
  return Read<jobs::RegistrationTask>([&](SqliteDb& db) -> Result<jobs::RegistrationTask> {
    IOTJOBS_PREPARE(s, db,
                    "SELECT " IOTJOBS_TASK_COLUMNS
                    " FROM registration_tasks "
                    "WHERE region = ?1 AND task_id = ?2");
    IOTJOBS_RETURN_IF_ERROR(StepToNamed(s, region, id, "registration task"));
    return TaskFromRow(s);
  });
}

Result<Page<jobs::RegistrationTask>> SqliteStore::ListRegistrationTasks(const std::string& region,
                                                                        const std::string& status,
                                                                        const std::string& after,
                                                                        int limit) {
  using P = Page<jobs::RegistrationTask>;
  return Read<P>([&](SqliteDb& db) -> Result<P> {
    int64_t after_seq = 0;
    if (!after.empty()) {
      auto [p, ec] = std::from_chars(after.data(), after.data() + after.size(), after_seq);
      if (ec != std::errc() || p != after.data() + after.size()) {
        return Status::InvalidRequest(
            "nextToken is invalid: pass the nextToken of a previous page");
      }
    }
    IOTJOBS_PREPARE(s, db,
                    "SELECT " IOTJOBS_TASK_COLUMNS
                    " FROM registration_tasks WHERE seq > ?1 "
                    "AND (?2 IS NULL OR region = ?2) AND (?3 IS NULL OR status = ?3) "
                    "ORDER BY seq LIMIT ?4");
    s.Bind(1, after_seq).Bind(4, static_cast<int64_t>(limit) + 1);
    if (!region.empty()) s.Bind(2, region);
    if (!status.empty()) s.Bind(3, status);
    std::vector<int64_t> seqs;  // the page resumes after a task's sequence number
    return ReadPage<jobs::RegistrationTask>(
        s, limit,
        [&](Stmt& r) {
          seqs.push_back(r.Int(13));
          return TaskFromRow(r);
        },
        [&](const auto&, int i) { return std::to_string(seqs[i]); });
  });
}

}  // namespace iotjobs::store
