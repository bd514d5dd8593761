/*
 * Yizhan registry workspace: one review item's map (/manage/review/<key>, issue 15 item 4).
 *
 * No inline scripts (CSP script-src 'self'): the map's data is the JSON block
 * #mg-review-config (the item's stations, its candidate positions numbered as the list, where
 * the pin starts, the map base the station editor uses); texts are data attributes of the map
 * element (webapp/planner_text.py manage.queue.*). The fix form works without this script
 * (a candidate or typed WGS-84 coordinates); with it:
 *   - the item's stations are grey markers, the candidates numbered markers;
 *   - for a fix, a draggable pin (mouse or touch; a tap on the map moves it too) writes its
 *     WGS-84 position into the lon/lat fields and chooses "coordinates typed in";
 *   - picking a candidate in the list (or tapping its marker) moves the pin there.
 * Scripts, in order: leaflet, i18n.js, common.js, manage/base.js (the map's base), this file.
 */
(function (Y) {
  'use strict';

  var C = Y.common;
  var cfg = C.readConfig('mg-review-config');
  var el = document.getElementById('mg-review-map');
  if (!el || !window.L) { return; }
  var text = {
    station: el.getAttribute('data-text-station') || '',
    candidate: el.getAttribute('data-text-candidate') || '',
    pin: el.getAttribute('data-text-pin') || '',
    demo: el.getAttribute('data-text-demo') || ''
  };
  var lonInput = document.getElementById('mg-lon');
  var latInput = document.getElementById('mg-lat');
  var pinChoice = document.getElementById('mg-cand-pin');

  var map = L.map(el, { zoomControl: true });
  if (C.localiseMap) { C.localiseMap(map); }
  map.attributionControl.setPrefix(false);
  if (cfg.attributionHtml) { map.attributionControl.addAttribution(cfg.attributionHtml); }
  if (text.demo) { map.attributionControl.addAttribution(C.escapeAttr(text.demo)); }

  /* The base: the first WGS-84 basemap with tiles, else the county outlines (base.js). */
  Y.manageMap.draw(map, el, cfg, Y.manageMap.choose(cfg, { wgs84Only: true }));

  function fixed(v) {
    return (Math.round(v * 1e7) / 1e7).toFixed(7).replace(/0+$/, '').replace(/\.$/, '');
  }
  function tip(label, detail) {
    var node = C.el('span', '', label + ' ');
    node.appendChild(C.dataEl('span', '', detail));
    return node;
  }

  var points = [];
  (cfg.stations || []).forEach(function (s) {
    L.circleMarker([s.lat, s.lon], { radius: 8, color: '#444', weight: 2, fillColor: '#8a8f98',
      fillOpacity: 0.8, className: 'mg-station-marker' })
      .bindTooltip(tip(text.station, s.id + ' ' + s.name)).addTo(map);
    points.push([s.lat, s.lon]);
  });

  var pin = null;
  function setPin(lat, lon, fill) {
    if (!pin) { return; }
    pin.setLatLng([lat, lon]);
    el.setAttribute('data-pin', fixed(lon) + ',' + fixed(lat));
    if (fill) {
      lonInput.value = fixed(lon);
      latInput.value = fixed(lat);
    }
  }
  function choosePin() { if (pinChoice) { pinChoice.checked = true; } }

  var radios = document.querySelectorAll('#mg-fix input[name=candidate][data-lon]');
  function chooseCandidate(n) {
    var radio = radios[n - 1];
    if (!radio) { return; }
    radio.checked = true;
    var lon = parseFloat(radio.getAttribute('data-lon'));
    var lat = parseFloat(radio.getAttribute('data-lat'));
    setPin(lat, lon, true);
    if (!map.getBounds().contains([lat, lon])) { map.panTo([lat, lon]); }
    el.setAttribute('data-candidate', String(n));
  }

  (cfg.candidates || []).forEach(function (c) {
    var icon = L.divIcon({ className: 'mg-cand-marker', html: String(Number(c.n)),
      iconSize: [28, 28], iconAnchor: [14, 14] });
    var m = L.marker([c.lat, c.lon], { icon: icon, keyboard: true,
      title: text.candidate + ' ' + c.n }).addTo(map);
    m.bindTooltip(tip(text.candidate + ' ' + c.n, fixed(c.lon) + ', ' + fixed(c.lat)));
    if (cfg.editable) { m.on('click', function () { chooseCandidate(c.n); }); }
    points.push([c.lat, c.lon]);
  });

  if (cfg.editable && lonInput && latInput) {
    var start = cfg.pin || (points.length ? [points[0][1], points[0][0]] : null);
    if (start) {
      pin = L.marker([start[1], start[0]], { draggable: true, keyboard: true, title: text.pin,
        zIndexOffset: 1000,
        icon: L.divIcon({ className: 'mg-pin', iconSize: [26, 26], iconAnchor: [13, 26] }) });
      pin.addTo(map);
      setPin(start[1], start[0], false);
      pin.on('dragend', function () {
        var ll = pin.getLatLng();
        setPin(ll.lat, ll.lng, true);
        choosePin();
        el.setAttribute('data-moved', '1');
      });
      map.on('click', function (e) {
        setPin(e.latlng.lat, e.latlng.lng, true);
        choosePin();
        el.setAttribute('data-moved', '1');
      });
      for (var i = 0; i < radios.length; i++) {
        (function (n) {
          radios[n - 1].addEventListener('change', function () { chooseCandidate(n); });
        }(i + 1));
      }
      [lonInput, latInput].forEach(function (input) {
        input.addEventListener('change', function () {
          var lon = parseFloat(lonInput.value), lat = parseFloat(latInput.value);
          if (isFinite(lon) && isFinite(lat)) {
            setPin(lat, lon, false);
            map.panTo([lat, lon]);
            choosePin();
          }
        });
      });
    }
  }

  if (points.length > 1) {
    map.fitBounds(L.latLngBounds(points), { padding: [30, 30], maxZoom: 16 });
  } else if (points.length === 1) {
    map.setView(points[0], 14);
  } else {
    map.setView([35, 105], 4);
  }
  el.setAttribute('data-ready', '1');
}(window.Yizhan || (window.Yizhan = {})));
