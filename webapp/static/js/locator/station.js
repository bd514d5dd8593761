/*
 * Yizhan station page (/stations/<id>): the small map of one station (#yz-station-map) and the
 * "copy link" button. Configuration from #yz-station-config (webapp/public.py).
 * Scripts, in order: leaflet, crs.js, i18n.js, common.js, locator/format.js, this file.
 * Exposes window.YizhanLocator = {formatDistance, formatMinutes, crs} like the locator.
 */
(function (Y) {
  'use strict';

  var t = Y.i18n.t;
  var C = Y.common;

  var CRS = window.YizhanCRS || {
    wgs84ToGcj02: function (lon, lat) { return [lon, lat]; },
    gcj02ToWgs84: function (lon, lat) { return [lon, lat]; }
  };

  function drawMap(cfg) {
    var mapEl = document.getElementById('yz-station-map');
    var defs = Array.isArray(cfg.basemaps) && cfg.basemaps.length ? cfg.basemaps : [];
    var d = defs[0] || { crs: 'wgs84', url: '' };
    var gcj = d.crs === 'gcj02';
    function disp(lat, lon) {
      if (gcj) { var g = CRS.wgs84ToGcj02(lon, lat); return [g[1], g[0]]; }
      return [lat, lon];
    }
    if (!mapEl || typeof L === 'undefined' || !isFinite(cfg.lat) || !isFinite(cfg.lon)) { return; }
    var map = L.map(mapEl, { zoomControl: true, scrollWheelZoom: false, keyboard: true })
      .setView(disp(cfg.lat, cfg.lon), 14);
    map.attributionControl.setPrefix(false);
    if (d.url) {
      L.tileLayer(d.url, { attribution: d.attribution || '', subdomains: d.subdomains || 'abc',
        maxZoom: d.max_zoom || 18 }).addTo(map);
      if (d.overlay_url) {
        L.tileLayer(d.overlay_url, { subdomains: d.subdomains || 'abc' }).addTo(map);
      }
    } else {
      mapEl.classList.add('yz-map--no-tiles');
      if (cfg.outlinesUrl) {
        C.getJSON(cfg.outlinesUrl).then(function (fc) {
          L.geoJSON(fc, {
            interactive: false,
            coordsToLatLng: function (c) { return L.latLng(disp(c[1], c[0])); },
            style: function () {
              return { color: '#8a8f98', weight: 1, fillColor: '#fbfaf6', fillOpacity: 1 };
            }
          }).addTo(map).bringToBack();
        }).catch(function () { /* the marker still shows */ });
        if (cfg.outlinesAttribution) { map.attributionControl.addAttribution(cfg.outlinesAttribution); }
      }
    }
    if (cfg.demo) { map.attributionControl.addAttribution(t('stationDemoAttribution')); }
    L.marker(disp(cfg.lat, cfg.lon), {
      icon: L.divIcon({ className: 'yz-marker yz-marker--selected', iconSize: [22, 22],
        iconAnchor: [11, 11] }),
      title: cfg.name || '', keyboard: false
    }).addTo(map);
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

  C.onReady(function () {
    window.YizhanLocator = {
      formatDistance: Y.locator.format.formatDistance,
      formatMinutes: Y.locator.format.formatMinutes,
      crs: CRS
    };
    drawMap(C.readConfig('yz-station-config'));
    bindCopy();
  });
}(window.Yizhan = window.Yizhan || {}));
