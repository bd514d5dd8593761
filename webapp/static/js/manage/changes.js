/*
 * Yizhan registry workspace, one change (/manage/changes/<id>, issue 15 item 5): the small map
 * of a change that moves a station: where it was (grey) and where it would be (blue), joined
 * by a line, on the first configured basemap (the locator's configuration, as the station page).
 * Configuration from #mg-change-config.
 * Scripts, in order: leaflet, crs.js, manage/base.js (the map's base), this file.
 */
(function () {
  'use strict';


  function readConfig() {
    var node = document.getElementById('mg-change-config');
    if (!node) { return null; }
    try { return JSON.parse(node.textContent || 'null'); } catch (e) { return null; }
  }

  function finite(p) {
    return Array.isArray(p) && p.length === 2 && isFinite(p[0]) && isFinite(p[1]) &&
      p[0] !== null && p[1] !== null;
  }

  function draw(cfg) {
    var el = document.getElementById('mg-change-map');
    var pos = cfg && cfg.position;
    if (!el || typeof L === 'undefined' || !pos || !finite(pos.after)) { return null; }
    var base = window.Yizhan.manageMap.choose(cfg, { offlineMaxZoom: 12 });
    var disp = base.disp;
    var maxZoom = base.maxZoom;
    var map = L.map(el, { scrollWheelZoom: false, minZoom: 4, maxZoom: maxZoom });
    map.attributionControl.setPrefix(false);
    window.Yizhan.manageMap.draw(map, el, cfg, base);
    var labels = cfg.labels || {};
    var after = disp(pos.after[0], pos.after[1]);
    var points = [after];
    if (finite(pos.before)) {
      var before = disp(pos.before[0], pos.before[1]);
      points.unshift(before);
      L.polyline(points, { color: '#555', weight: 2, dashArray: '4 4' }).addTo(map);
      L.circleMarker(before, { radius: 8, color: '#666', fillColor: '#bbb', fillOpacity: 0.9 })
        .bindTooltip(String(labels.before || ''), { permanent: true, direction: 'left' }).addTo(map);
    }
    L.circleMarker(after, { radius: 9, color: '#0b57d0', fillColor: '#1a73e8', fillOpacity: 0.9 })
      .bindTooltip(String(labels.after || ''), { permanent: true, direction: 'right' }).addTo(map);
    if (points.length > 1) {
      map.fitBounds(L.latLngBounds(points), { padding: [40, 40], maxZoom: Math.min(17, maxZoom) });
    } else {
      map.setView(after, Math.min(14, maxZoom));
    }
    el.setAttribute('data-ready', '1');
    return map;
  }

  window.YizhanChange = { map: draw(readConfig()) };
}());
