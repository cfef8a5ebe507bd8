/* 反诈包联 phone pages: the outbox of visits (IndexedDB, localStorage when IndexedDB is missing), the visit
 * form (signature pad, photo, location) and the service worker registration. No framework, no inline code:
 * the pages pass data in data-* attributes.
 *
 * Every visit gets a UUID made here when the form opens. It is put in the outbox first and only then sent,
 * so a closed page, a dropped connection or a timeout never loses it; the server stores each UUID once,
 * so sending it again (double tap, retry, two tabs) never doubles it. */
(function () {
  "use strict";

  var body = document.body;
  var API = body.getAttribute("data-api");
  var USER = body.getAttribute("data-user") || "";
  var PAGE = body.getAttribute("data-page") || "";
  var DB_NAME = "fanzha-outbox";
  var STORE = "visits";
  var LS_KEY = "fanzha-outbox";
  var RETRY_MS = 20000;
  var SEND_TIMEOUT_MS = 25000;

  function $(id) { return document.getElementById(id); }

  /* ---------------------------------------------------------------- outbox storage */

  var useLocal = !("indexedDB" in window);
  var dbPromise = null;

  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var req = indexedDB.open(DB_NAME, 1);
        req.onupgradeneeded = function () { req.result.createObjectStore(STORE, { keyPath: "client_id" }); };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
    }
    return dbPromise;
  }

  function idb(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode);
        var req = work(t.objectStore(STORE));
        t.oncomplete = function () { resolve(req ? req.result : undefined); };
        t.onerror = function () { reject(t.error); };
        t.onabort = function () { reject(t.error); };
      });
    });
  }

  function localAll() {
    try { return JSON.parse(localStorage.getItem(LS_KEY) || "{}"); } catch (e) { return {}; }
  }

  function localSave(map) { localStorage.setItem(LS_KEY, JSON.stringify(map)); }

  var outbox = {
    all: function () {
      if (useLocal) {
        var map = localAll();
        return Promise.resolve(Object.keys(map).map(function (k) { return map[k]; }));
      }
      return idb("readonly", function (s) { return s.getAll(); }).catch(function () {
        useLocal = true;
        return outbox.all();
      });
    },
    put: function (item) {
      if (useLocal) {
        var map = localAll();
        map[item.client_id] = item;
        localSave(map);
        return Promise.resolve();
      }
      return idb("readwrite", function (s) { return s.put(item); }).catch(function () {
        useLocal = true;
        return outbox.put(item);
      });
    },
    remove: function (clientId) {
      if (useLocal) {
        var map = localAll();
        delete map[clientId];
        localSave(map);
        return Promise.resolve();
      }
      return idb("readwrite", function (s) { return s["delete"](clientId); });
    }
  };

  /* ---------------------------------------------------------------- helpers */

  function uuid4() {
    var b = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = [];
    for (var i = 0; i < 16; i++) { h.push((b[i] + 0x100).toString(16).slice(1)); }
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") + "-" +
      h.slice(8, 10).join("") + "-" + h.slice(10, 16).join("");
  }

  function csrfToken() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (m) { return decodeURIComponent(m[1]); }
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function notice(text) {
    var el = $("notice");
    if (!el) { return; }
    el.textContent = text;
    el.hidden = !text;
  }

  function flattenErrors(errors) {
    var out = [];
    Object.keys(errors || {}).forEach(function (k) { out = out.concat(errors[k]); });
    return out;
  }

  /* ---------------------------------------------------------------- sending */

  function sendOne(item) {
    var controller = "AbortController" in window ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, SEND_TIMEOUT_MS) : null;
    return fetch(API, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(item.payload),
      signal: controller ? controller.signal : undefined
    }).then(function (resp) {
      if (timer) { clearTimeout(timer); }
      if (resp.status === 200 || resp.status === 201) {
        return outbox.remove(item.client_id).then(function () { return { state: "sent" }; });
      }
      if (resp.status === 401) {
        return { state: "login" };
      }
      if (resp.status === 409) {
        // The id names another visit (never this one): keep what was typed, under a fresh id, and send it.
        var taken = item.client_id;
        var fresh = uuid4();
        item.client_id = fresh;
        item.payload.client_id = fresh;
        return outbox.put(item)
          .then(function () { return outbox.remove(taken); })
          .then(function () { return sendOne(item); });
      }
      return resp.json().then(function (data) {
        if (resp.status >= 500) { return { state: "retry" }; }
        item.status = "rejected";
        item.errors = flattenErrors(data.errors);
        return outbox.put(item).then(function () { return { state: "rejected", errors: item.errors }; });
      }, function () {
        // Not JSON: a proxy error page, or Django's CSRF failure page after a new login.
        return { state: resp.status === 403 ? "csrf" : "retry" };
      });
    }, function () {
      if (timer) { clearTimeout(timer); }
      return { state: "offline" };
    });
  }

  var flushing = null;
  var again = false;

  function flush() {
    if (flushing) { again = true; return flushing; }
    flushing = outbox.all().then(function (items) {
      var mine = items.filter(function (i) { return i.status === "pending" && i.user === USER && USER; });
      mine.sort(function (a, b) { return a.created - b.created; });
      var chain = Promise.resolve({ state: "sent" });
      mine.forEach(function (item) {
        chain = chain.then(function (last) {
          if (last.state !== "sent" && last.state !== "rejected") { return last; }
          return sendOne(item);
        });
      });
      return chain;
    }).then(function (last) {
      if (last.state === "login") { notice("登录已过期：请重新登录，待上传的走访会自动上传。"); }
      else if (last.state === "csrf") { notice("安全校验失败：请刷新页面，待上传的走访会自动上传。"); }
      return refresh().then(function () { return last; });
    }, function () { return refresh(); }).then(function (last) {
      flushing = null;
      if (again) { again = false; return flush(); }
      return last;
    });
    return flushing;
  }

  function refresh() {
    return outbox.all().then(function (items) {
      var pending = items.filter(function (i) { return i.status === "pending"; });
      var badge = $("outbox");
      if (badge) {
        $("outbox-count").textContent = String(pending.length);
        badge.hidden = pending.length === 0;
      }
      var here = $("pending-here");
      if (here) {
        var hid = here.getAttribute("data-household");
        var n = pending.filter(function (i) { return String(i.payload.household) === hid; }).length;
        here.textContent = n ? "本户有" + n + "条走访保存在手机上，待上传。" : "";
        here.hidden = n === 0;
      }
      Array.prototype.forEach.call(document.querySelectorAll(".card[data-household]"), function (card) {
        var id = card.getAttribute("data-household");
        var count = pending.filter(function (i) { return String(i.payload.household) === id; }).length;
        var chip = card.querySelector(".pending-chip");
        if (count && !chip) {
          chip = document.createElement("span");
          chip.className = "state pending-chip";
          card.querySelector(".states").appendChild(chip);
        }
        if (chip) {
          chip.textContent = count ? "待上传" + count + "条" : "";
          chip.hidden = !count;
        }
      });
      showRejected(items.filter(function (i) { return i.status === "rejected" && i.user === USER; }));
      var others = pending.filter(function (i) { return i.user !== USER; }).length;
      if (others && PAGE === "login") {
        notice("手机上有" + others + "条走访待上传：用记录它们的账号登录后会自动上传。");
      }
    });
  }

  function showRejected(items) {
    var box = $("rejected");
    if (!box) { return; }
    box.textContent = "";
    box.hidden = items.length === 0;
    items.forEach(function (item) {
      var p = document.createElement("p");
      p.textContent = "未能上传：" + item.label + "（" + new Date(item.created).toLocaleString("zh-CN") + "）：" +
        (item.errors || []).join("；") + " ";
      var del = document.createElement("button");
      del.type = "button";
      del.textContent = "删除这条";
      del.addEventListener("click", function () {
        if (window.confirm("删除后这条走访不会上传，需要时请重新记录。确定删除？")) {
          outbox.remove(item.client_id).then(refresh);
        }
      });
      p.appendChild(del);
      box.appendChild(p);
    });
  }

  /* ---------------------------------------------------------------- the visit form */

  function setupSignature(canvas) {
    var ctx = canvas.getContext("2d");
    var strokes = 0;
    var drawing = false;
    function fit() {
      var w = Math.round(canvas.clientWidth) || 340;
      if (canvas.width !== w && strokes === 0) { canvas.width = w; canvas.height = 180; }
      ctx.lineWidth = 2.5;
      ctx.lineCap = "round";
      ctx.lineJoin = "round";
      ctx.strokeStyle = "#111";
    }
    function point(e) {
      var r = canvas.getBoundingClientRect();
      return { x: (e.clientX - r.left) * canvas.width / r.width, y: (e.clientY - r.top) * canvas.height / r.height };
    }
    canvas.addEventListener("pointerdown", function (e) {
      e.preventDefault();
      drawing = true;
      if (canvas.setPointerCapture) { canvas.setPointerCapture(e.pointerId); }
      var p = point(e);
      ctx.beginPath();
      ctx.moveTo(p.x, p.y);
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!drawing) { return; }
      e.preventDefault();
      var p = point(e);
      ctx.lineTo(p.x, p.y);
      ctx.stroke();
    });
    function end() {
      if (drawing) { strokes += 1; }
      drawing = false;
    }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    fit();
    window.addEventListener("resize", fit);
    return {
      isEmpty: function () { return strokes === 0; },
      clear: function () { ctx.clearRect(0, 0, canvas.width, canvas.height); strokes = 0; fit(); },
      dataUrl: function () { return strokes ? canvas.toDataURL("image/png") : ""; }
    };
  }

  function shrinkPhoto(file) {
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file);
      var img = new Image();
      img.onload = function () {
        var scale = Math.min(1, 1280 / Math.max(img.width, img.height));
        var c = document.createElement("canvas");
        c.width = Math.round(img.width * scale);
        c.height = Math.round(img.height * scale);
        c.getContext("2d").drawImage(img, 0, 0, c.width, c.height);
        URL.revokeObjectURL(url);
        resolve(c.toDataURL("image/jpeg", 0.7));
      };
      img.onerror = function () { URL.revokeObjectURL(url); reject(new Error("photo")); };
      img.src = url;
    });
  }

  function setupVisitForm(form) {
    var clientId = uuid4();
    var pad = setupSignature($("signature"));
    var photo = "";
    var location = null;
    var saving = false;

    $("signature-clear").addEventListener("click", function () { pad.clear(); });

    $("photo").addEventListener("change", function (e) {
      var file = e.target.files && e.target.files[0];
      photo = "";
      if (!file) { return; }
      shrinkPhoto(file).then(function (data) {
        photo = data;
        $("photo").setAttribute("data-size", String(Math.round(data.length * 0.75 / 1024)));
      }, function () { showErrors(["照片无法读取，请重新拍照"]); });
    });

    var status = $("location-status");
    if (navigator.geolocation) {
      navigator.geolocation.getCurrentPosition(function (pos) {
        location = { latitude: pos.coords.latitude, longitude: pos.coords.longitude };
        status.textContent = "已获取位置（误差约" + Math.round(pos.coords.accuracy) + "米）";
      }, function () {
        status.textContent = "没有获取位置（未允许或没有信号），不影响保存。";
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 300000 });
    } else {
      status.textContent = "这部手机不能提供位置，不影响保存。";
    }

    function checked(name) {
      var el = form.querySelector('input[name="' + name + '"]');
      return !!(el && el.checked);
    }

    function showErrors(list) {
      var box = $("form-errors");
      box.textContent = "";
      list.forEach(function (text) {
        var p = document.createElement("p");
        p.textContent = text;
        box.appendChild(p);
      });
      box.hidden = list.length === 0;
      if (list.length) { box.scrollIntoView({ block: "center" }); }
    }

    function collect() {
      var errors = [];
      var types = Array.prototype.map.call(form.querySelectorAll('input[name="fraud_types"]:checked'),
        function (el) { return Number(el.value); });
      if (checked("explained") && types.length === 0) { errors.push("已勾选“真讲解”，请至少勾选一种讲解过的诈骗类型"); }
      if (checked("signed") && pad.isEmpty()) { errors.push("已勾选“真签名”，请住户在签名框内签名"); }
      if (!checked("signed") && !pad.isEmpty()) { errors.push("已有签名，请勾选“真签名”；如签错了请点“重新签名”"); }
      var extra = {};
      ["app_installed", "app_registered", "app_verified", "alerts_enabled"].forEach(function (name) {
        var v = form.querySelector('input[name="extra-' + name + '"]').value;
        var n = v === "" ? 0 : Number(v);
        if (!(n >= 0 && n <= 50 && Math.floor(n) === n)) { errors.push("名册外人数须是0到50的整数"); n = 0; }
        extra[name] = n;
      });
      if (extra.app_verified > extra.app_registered || extra.app_registered > extra.app_installed) {
        errors.push("名册外人数：实名不能多于注册，注册不能多于安装");
      }
      var residents = Array.prototype.map.call(form.querySelectorAll(".resident"), function (div) {
        var r = { id: Number(div.getAttribute("data-resident")) };
        ["app_installed", "app_registered", "app_verified", "alerts_enabled"].forEach(function (name) {
          var el = div.querySelector('input[name="' + name + '"]');
          r[name] = !!(el && el.checked && !el.disabled);
        });
        return r;
      }).filter(function (r) { return r.app_installed || r.app_registered || r.app_verified || r.alerts_enabled; });
      // Two campaigns running in the county: the form asks which one (see campaigns/rules.py).
      var pick = form.querySelector('select[name="campaign"]');
      var campaign = pick ? pick.value : form.getAttribute("data-campaign");
      if (pick && !campaign) { errors.push("请选择本次走访记入哪个活动"); }
      var payload = {
        client_id: clientId,
        household: Number(form.getAttribute("data-household")),
        campaign: campaign ? Number(campaign) : null,
        visited_at: new Date().toISOString(),
        entered: checked("entered"),
        met_person: checked("met_person"),
        explained: checked("explained"),
        signed: checked("signed"),
        fraud_types: types,
        left_brochure: checked("left_brochure"),
        left_letter: checked("left_letter"),
        left_pledge: checked("left_pledge"),
        residents: residents,
        extra: extra,
        signature: pad.dataUrl(),
        photo: photo,
        latitude: location ? location.latitude : null,
        longitude: location ? location.longitude : null,
        notes: form.querySelector('textarea[name="notes"]').value.trim()
      };
      return { errors: errors, payload: payload };
    }

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (saving) { return; }
      var result = collect();
      showErrors(result.errors);
      if (result.errors.length) { return; }
      saving = true;
      var button = $("save-visit");
      button.disabled = true;
      button.textContent = "正在保存…";
      var item = {
        client_id: clientId,
        user: USER,
        status: "pending",
        created: Date.now(),
        label: document.title.replace(/^记录走访\s*/, "").replace(/\s*·.*$/, ""),
        payload: result.payload
      };
      var formStatus = $("form-status");
      outbox.put(item).then(refresh).then(function () { return sendOne(item); }).then(function (res) {
        if (res.state === "sent") {
          try { sessionStorage.setItem("fanzha-notice", "走访已保存并上传。"); } catch (err) { /* private mode */ }
          window.location.href = form.getAttribute("data-done");
          return;
        }
        if (res.state === "rejected") {
          // Still on the form: let the user fix it and save again (same visit id).
          outbox.remove(clientId).then(refresh);
          showErrors(res.errors.length ? res.errors : ["保存失败，请检查后重试"]);
          saving = false;
          button.disabled = false;
          button.textContent = "保存走访";
          return;
        }
        formStatus.textContent = res.state === "login"
          ? "走访已保存在手机上。登录已过期：请重新登录，登录后会自动上传。"
          : "走访已保存在手机上，待上传。有信号时会自动上传，不用再点保存。";
        formStatus.hidden = false;
        button.textContent = "已保存在手机上";
        refresh();
      }, function () {
        showErrors(["手机存储不可用，走访没有保存：请不要用无痕模式，或清理手机空间后重试"]);
        saving = false;
        button.disabled = false;
        button.textContent = "保存走访";
      });
    });
  }

  /* ---------------------------------------------------------------- start */

  function start() {
    try {
      var n = sessionStorage.getItem("fanzha-notice");
      if (n) { sessionStorage.removeItem("fanzha-notice"); notice(n); }
    } catch (e) { /* private mode */ }

    var form = $("visit-form");
    if (form) { setupVisitForm(form); }

    if (PAGE === "login" && "caches" in window) {
      // Pages cached for the previous login must not be shown offline to the next one.
      caches["delete"]("fanzha-pages");
    }
    var logout = $("logout-form");
    if (logout) {
      logout.addEventListener("submit", function (e) {
        var count = Number(($("outbox-count") || {}).textContent || 0);
        if (count && !window.confirm("还有" + count + "条走访没有上传，退出后要再次登录才会上传。确定退出？")) {
          e.preventDefault();
          return;
        }
        if ("caches" in window) { caches["delete"]("fanzha-pages"); }
      });
    }

    if ("serviceWorker" in navigator && body.getAttribute("data-sw")) {
      navigator.serviceWorker.register(body.getAttribute("data-sw"), { scope: "/m/" })["catch"](function () {});
    }

    window.addEventListener("online", function () { flush(); });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") { flush(); }
    });
    setInterval(function () { if (navigator.onLine !== false) { flush(); } }, RETRY_MS);
    refresh().then(flush);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }

  window.fanzhaOutbox = { flush: flush, all: outbox.all, refresh: refresh };
}());
