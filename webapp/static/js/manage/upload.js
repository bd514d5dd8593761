/*
 * Yizhan registry workspace, upload preview (/manage/upload/<token>, issue 15 item 3): the
 * previewed rows as markers by class (new, changed — with a dashed line from where the
 * station was —, unchanged, rejected rows with a position, outside the user's areas). A
 * marker's click highlights its table row; a row's click finds its marker. Configuration
 * (points, texts, basemaps) from #mg-upload-config (webapp/manage/upload_map.py). Names are
 * data: popups are built with textContent, never markup.
 * Scripts, in order: leaflet, crs.js, manage/base.js (the map's base), this file.
 */
(function () {
  'use strict';

  var STYLE = {
    new: { color: '#0d652d', fillColor: '#1e8e3e' },
    changed: { color: '#0b57d0', fillColor: '#1a73e8' },
    unchanged: { color: '#80868b', fillColor: '#bdc1c6' },
    rejected: { color: '#a50e0e', fillColor: '#d93025' },
    outside: { color: '#b06000', fillColor: '#f29900' }
  };

  function readConfig() {
    var node = document.getElementById('mg-upload-config');
    if (!node) { return null; }
    try { return JSON.parse(node.textContent || 'null'); } catch (e) { return null; }
  }

  function finite(lon, lat) {
    return typeof lon === 'number' && typeof lat === 'number' && isFinite(lon) && isFinite(lat);
  }

  function textNode(tag, text, className) {
    var node = document.createElement(tag);
    node.textContent = text;
    if (className) { node.className = className; }
    return node;
  }

  function draw(cfg) {
    var el = document.getElementById('mg-upload-map');
    if (!el || typeof L === 'undefined' || !cfg || !Array.isArray(cfg.points)) { return null; }
    var base = window.Yizhan.manageMap.choose(cfg, { offlineMaxZoom: 12 });
    var disp = base.disp;
    var maxZoom = base.maxZoom;
    var map = L.map(el, { scrollWheelZoom: false, minZoom: 3, maxZoom: maxZoom });
    map.attributionControl.setPrefix(false);
    if (cfg.attributionHtml) { map.attributionControl.addAttribution(cfg.attributionHtml); }
    window.Yizhan.manageMap.draw(map, el, cfg, base);

    var text = cfg.text || {};
    var classes = cfg.classes || {};
    var markers = {};
    var bounds = [];
    var highlighted = [];

    function rowsOf(key) {
      return Array.prototype.filter.call(document.querySelectorAll('tr[data-mk]'), function (tr) {
        return tr.getAttribute('data-mk') === key;
      });
    }

    function highlight(key) {
      highlighted.forEach(function (tr) { tr.classList.remove('mg-hl'); });
      highlighted = rowsOf(key);
      highlighted.forEach(function (tr) { tr.classList.add('mg-hl'); });
    }

    function popup(p, key) {
      var box = document.createElement('div');
      box.className = 'mg-upload-popup';
      var head = document.createElement('p');
      head.appendChild(textNode('strong', p.name || p.id || ''));
      box.appendChild(head);
      if (p.id) { box.appendChild(textNode('p', p.id, 'pl-hint')); }
      var facts = String(classes[p.k] || p.k);
      if (p.line !== null && p.line !== undefined) {
        facts += ' · ' + String(cfg.lineText || '{n}').replace('{n}', String(p.line));
      }
      box.appendChild(textNode('p', facts));
      var link = textNode('a', String(text.show_row || ''));
      link.href = '#mg-row-' + key;
      box.appendChild(link);
      return box;
    }

    cfg.points.forEach(function (p) {
      if (!finite(p.lon, p.lat)) { return; }
      var key = p.k + '-' + p.i;
      var style = STYLE[p.k] || STYLE.unchanged;
      var at = disp(p.lon, p.lat);
      bounds.push(at);
      if (Array.isArray(p.before) && finite(p.before[0], p.before[1])) {
        var was = disp(p.before[0], p.before[1]);
        bounds.push(was);
        L.polyline([was, at], { color: '#555', weight: 2, dashArray: '4 4', interactive: false,
          className: 'mg-mk-move' }).addTo(map);
        L.circleMarker(was, { radius: 5, color: '#666', fillColor: '#fff', fillOpacity: 1,
          weight: 2, className: 'mg-mk-before' })
          .bindPopup(textNode('p', String(text.before || '') + ' · ' + (p.name || p.id || '')))
          .addTo(map);
      }
      var marker = L.circleMarker(at, { radius: 7, weight: 2, fillOpacity: 0.9,
        color: style.color, fillColor: style.fillColor, className: 'mg-mk mg-mk--' + p.k });
      marker.bindPopup(popup(p, key));
      marker.on('click', function () { highlight(key); });
      marker.addTo(map);
      markers[key] = marker;
    });

    document.addEventListener('click', function (e) {
      var tr = e.target && e.target.closest ? e.target.closest('tr[data-mk]') : null;
      if (!tr || (e.target.closest && e.target.closest('a'))) { return; }
      var key = tr.getAttribute('data-mk');
      var marker = markers[key];
      highlight(key);
      if (!marker) { return; }
      map.setView(marker.getLatLng(), Math.max(map.getZoom(), Math.min(10, maxZoom)));
      marker.openPopup();
      el.scrollIntoView({ block: 'nearest' });
    });

    if (bounds.length > 1) {
      map.fitBounds(L.latLngBounds(bounds), { padding: [24, 24], maxZoom: Math.min(15, maxZoom) });
    } else if (bounds.length === 1) {
      map.setView(bounds[0], Math.min(12, maxZoom));
    } else {
      map.setView([35, 105], 3);
    }
    el.setAttribute('data-ready', '1');
    el.setAttribute('data-markers', String(Object.keys(markers).length));
    return { map: map, markers: markers, highlight: highlight };
  }

  window.YizhanUpload = draw(readConfig());
}());
