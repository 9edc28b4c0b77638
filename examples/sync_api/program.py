"""A to-do API: routes on the method and the path below the webhook URL.

    GET    <url>/todos          the list
    POST   <url>/todos          {"title": ...} -> 201 and the new item
    GET    <url>/todos/<id>     one item, or 404
    DELETE <url>/todos/<id>     204, or 404

Items live in the project's key-value store, so every session sees them.
"""

import autokitteh


def answer(status: int, body=None, **headers: str) -> None:
    if body is None:
        autokitteh.http_outcome(status, headers=headers or None)
    else:
        autokitteh.http_outcome(status, json=body, headers={"Cache-Control": "no-store", **headers})


def api(event):
    method = event.data.method
    parts = [p for p in event.data.url.path_suffix.split("/") if p]
    if not parts or parts[0] != "todos" or len(parts) > 2:
        return answer(404, {"error": f"no route for {method} /{'/'.join(parts)}"})
    if len(parts) == 1:
        if method == "GET":
            keys = sorted(k for k in autokitteh.list_values_keys() if k.startswith("todo:"))
            return answer(200, [autokitteh.get_value(k) for k in keys])
        if method == "POST":
            body = event.data.body.json
            if not isinstance(body, dict) or not isinstance(body.get("title"), str) or not body["title"]:
                return answer(400, {"error": 'expected a JSON object with a non-empty "title"'})
            item = {"id": autokitteh.add_values("next_id", 1), "title": body["title"], "done": False}
            autokitteh.set_value(f"todo:{item['id']:06d}", item)
            return answer(201, item, Location=f"todos/{item['id']}")
        return answer(405, {"error": f"{method} not allowed on /todos"}, Allow="GET, POST")
    key = f"todo:{int(parts[1]):06d}" if parts[1].isdigit() else ""
    item = autokitteh.get_value(key) if key else None
    if item is None:
        return answer(404, {"error": f"no todo {parts[1]}"})
    if method == "GET":
        return answer(200, item)
    if method == "DELETE":
        autokitteh.del_value(key)
        return answer(204)
    return answer(405, {"error": f"{method} not allowed on /todos/{parts[1]}"}, Allow="GET, DELETE")
