/* 反诈包联 service worker, served at /m/sw.js so it controls the phone pages under /m/.
 *
 * Phone pages: network first, the last copy from the cache when there is no signal, else /m/offline/.
 * Static files: from the cache at once, refreshed in the background. POSTs are never touched: visits
 * wait in the page's outbox (IndexedDB) and are sent by app.js when the connection returns. */
"use strict";

var STATIC_CACHE = "fanzha-static-v1";
var PAGE_CACHE = "fanzha-pages";
var params = new URL(self.location.href).searchParams;
var ASSETS = (params.get("assets") || "").split(",").filter(Boolean);
var OFFLINE = ASSETS.filter(function (u) { return u.indexOf("/m/offline") === 0; })[0] || "/m/offline/";
var NOT_CACHED = ["/m/login/", "/m/logout/", "/m/review/", "/m/api/", "/m/sw.js"];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(STATIC_CACHE).then(function (cache) { return cache.addAll(ASSETS); }).then(function () {
      return self.skipWaiting();
    })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) {
        return k.indexOf("fanzha-static-") === 0 && k !== STATIC_CACHE;
      }).map(function (k) { return caches["delete"](k); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function staticFirst(request) {
  return caches.open(STATIC_CACHE).then(function (cache) {
    return cache.match(request).then(function (hit) {
      var fresh = fetch(request).then(function (resp) {
        if (resp.ok) { cache.put(request, resp.clone()); }
        return resp;
      });
      if (hit) {
        fresh["catch"](function () {});
        return hit;
      }
      return fresh;
    });
  });
}

function pageNetworkFirst(request) {
  return fetch(request).then(function (resp) {
    if (resp.ok && !resp.redirected && resp.type === "basic") {
      // Stored before the page is shown, so the copy is there even if the signal drops right after.
      var copy = resp.clone();
      return caches.open(PAGE_CACHE).then(function (cache) { return cache.put(request, copy); })
        .then(function () { return resp; }, function () { return resp; });
    }
    return resp;
  })["catch"](function () {
    return caches.open(PAGE_CACHE).then(function (cache) {
      return cache.match(request).then(function (hit) {
        return hit || caches.match(OFFLINE);
      });
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(staticFirst(request));
    return;
  }
  if (request.mode === "navigate" && url.pathname.indexOf("/m/") === 0) {
    for (var i = 0; i < NOT_CACHED.length; i++) {
      if (url.pathname.indexOf(NOT_CACHED[i]) === 0) { return; }
    }
    event.respondWith(pageNetworkFirst(request));
  }
});
