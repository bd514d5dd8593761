/*
 * Yizhan station page (/stations/<id>): the small map of one station (#yz-station-map) and the
 * "copy link" button. Configuration from #yz-station-config (webapp/public.py).
 * Scripts, in order: leaflet, crs.js, i18n.js, common.js, locator/format.js, this file.
 * Exposes window.YizhanLocator = {formatDistance, formatMinutes, crs} like the locator, and
 * window.YizhanStation = {map}.
 */
(function (Y) {
  'use strict';

  var t = Y.i18n.t;
  var C = Y.common;

  var CRS = window.YizhanCRS || {
    wgs84ToGcj02: function (lon, lat) { return [lon, lat]; },
    gcj02ToWgs84: function (lon, lat) { return [lon, lat]; }
  };

  /** The deepest zoom the basemap draws something at (the locator's rule: the offline outlines
   *  stop at their configured max_zoom, 12), and the zoom the small map opens at. */
  var OFFLINE_ZOOM = 10;   // a few neighbouring counties and their names around the station
  var TILES_ZOOM = 15;

  function zooms(d) {
    if (d.url) {
      var maxTiles = d.max_zoom || 18;
      return { max: maxTiles, start: Math.min(TILES_ZOOM, maxTiles) };
    }
    var max = Math.min(d.max_zoom || 12, 12);
    return { max: max, start: Math.min(OFFLINE_ZOOM, max) };
  }

  /** County names at their seats: what a worker recognises on the offline basemap. */
  function countyLabels(fc, disp) {
    var group = L.layerGroup();
    (fc.features || []).forEach(function (f) {
      var p = f.properties || {};
      if (!isFinite(p.seat_lon) || !isFinite(p.seat_lat) || C.isBlank(p.name)) { return; }
      var m = L.marker(disp(p.seat_lat, p.seat_lon), {
        icon: L.divIcon({ className: 'yz-label yz-label--county', html: '', iconSize: null }),
        interactive: false, keyboard: false, zIndexOffset: -1000
      });
      m.on('add', function () {
        var node = m.getElement();
        if (node) {
          node.textContent = String(p.name);
          node.setAttribute('aria-hidden', 'true');
          node.setAttribute('lang', 'zh-CN');
          node.setAttribute('translate', 'no');
        }
      });
      group.addLayer(m);
    });
    return group;
  }

  /** The small map: the station on the first configured basemap (the locator's config). */
  function drawMap(cfg) {
    var mapEl = document.getElementById('yz-station-map');
    var defs = Array.isArray(cfg.basemaps) && cfg.basemaps.length ? cfg.basemaps : [];
    var d = defs[0] || { crs: 'wgs84', url: '' };
    var gcj = d.crs === 'gcj02';
    function disp(lat, lon) {
      if (gcj) { var g = CRS.wgs84ToGcj02(lon, lat); return [g[1], g[0]]; }
      return [lat, lon];
    }
    if (!mapEl || typeof L === 'undefined' || !isFinite(cfg.lat) || !isFinite(cfg.lon)) { return null; }
    var z = zooms(d);
    var map = L.map(mapEl, { zoomControl: true, scrollWheelZoom: false, keyboard: true,
      minZoom: 4, maxZoom: z.max }).setView(disp(cfg.lat, cfg.lon), z.start);
    map.attributionControl.setPrefix(false);
    if (d.url) {
      L.tileLayer(d.url, { attribution: d.attribution || '', subdomains: d.subdomains || 'abc',
        maxZoom: z.max }).addTo(map);
      if (d.overlay_url) {
        L.tileLayer(d.overlay_url, { subdomains: d.subdomains || 'abc', maxZoom: z.max }).addTo(map);
      }
    } else {
      mapEl.classList.add('yz-map--no-tiles');
      if (cfg.outlinesUrl) {
        C.getJSON(cfg.outlinesUrl).then(function (fc) {
          L.geoJSON(fc, {
            interactive: false,
            coordsToLatLng: function (c) { return L.latLng(disp(c[1], c[0])); },
            style: function () {
              return { color: '#8a8f98', weight: 1, opacity: 0.9, fillColor: '#fbfaf6', fillOpacity: 1 };
            }
          }).addTo(map).bringToBack();
          countyLabels(fc, disp).addTo(map);
        }).catch(function () { /* the marker still shows */ });
        map.attributionControl.addAttribution(t('stationOutlinesAttribution'));
      }
    }
    if (cfg.demo) { map.attributionControl.addAttribution(t('stationDemoAttribution')); }
    if (cfg.approval) { map.attributionControl.addAttribution(String(cfg.approval)); }
    var marker = L.marker(disp(cfg.lat, cfg.lon), {
      icon: L.divIcon({ className: 'yz-marker yz-marker--selected', iconSize: [22, 22],
        iconAnchor: [11, 11] }),
      title: cfg.name || '', keyboard: false
    }).addTo(map);
    var node = marker.getElement();
    if (node) { node.setAttribute('translate', 'no'); }   // its title is the station's name
    return C.localiseMap(map);
  }

  /** The page chrome in the page language (the markup is the Chinese default). */
  function translatePage(cfg) {
    Y.i18n.setLang(cfg.lang || document.documentElement.getAttribute('lang'));
    Y.i18n.apply(document);
    var precision = document.getElementById('yz-precision');
    var code = precision && precision.getAttribute('data-precision');
    if (code && Y.i18n.has('precision.' + code)) { precision.textContent = t('precision.' + code); }
  }

  function bindCopy() {
    var copy = document.getElementById('yz-copy');
    var field = document.getElementById('yz-share-url');
    var status = document.getElementById('yz-status');
    if (!copy) { return; }
    copy.addEventListener('click', function () {
      var url = copy.getAttribute('data-url') || window.location.href;
      C.writeClipboard(url, function () {
        if (status) { status.textContent = t('stationCopied'); }
      }, function () {
        if (field) { field.focus(); field.select(); }
        if (status) { status.textContent = t('stationCopyManual'); }
      });
    });
  }

  /**
   * Count a followed navigation link (issue 15 item 8): a bodiless navigator.sendBeacon to
   * cfg.beaconUrl (empty when the deployment's demand signals are off). Only the station and
   * the day are counted on the server; nothing about the visitor is sent.
   */
  function bindBeacon(cfg) {
    var links = document.getElementById('yz-navlinks');
    if (!links || !cfg.beaconUrl || !navigator.sendBeacon) { return; }
    var sent = false;
    links.addEventListener('click', function (e) {
      var a = e.target && e.target.closest ? e.target.closest('a') : null;
      if (!a || sent) { return; }
      sent = true;                  // once per page view
      try { navigator.sendBeacon(cfg.beaconUrl); } catch (err) { /* counting is optional */ }
    });
  }

  C.onReady(function () {
    window.YizhanLocator = {
      formatDistance: Y.locator.format.formatDistance,
      formatMinutes: Y.locator.format.formatMinutes,
      crs: CRS
    };
    var cfg = C.readConfig('yz-station-config');
    translatePage(cfg);
    window.YizhanStation = { map: drawMap(cfg) };
    bindCopy();
    bindBeacon(cfg);
  });
}(window.Yizhan = window.Yizhan || {}));
